/*
Copyright 2026 The dllm-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package tokenizer

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestEncode(t *testing.T) {
	nfc := func(doc map[string]any) { doc["normalizer"] = map[string]any{"type": "NFC"} }
	ignoreMerges := func(doc map[string]any) { model(doc)["ignore_merges"] = true }
	xyz := withVocab(map[string]int{"xyz": 400}) // reachable by no merge
	tests := []struct {
		name string
		mods []func(map[string]any)
		in   string
		want []int
	}{
		{name: "empty", in: "", want: nil},
		// "hello" merges h+e, l+l, he+ll, hell+o; " world" merges Ġ+w, o+r, Ġw+or, l+d, Ġwor+ld.
		{name: "words", in: "hello world", want: []int{idHello, idSpWorld}},
		{name: "pair merges", mods: mods(withPairMerges), in: "hello world", want: []int{idHello, idSpWorld}},
		// "!" is a pre-token of its own, so the merge "Ġworld !" cannot apply across the boundary.
		{name: "no merge across pre-tokens", in: "hello world!", want: []int{idHello, idSpWorld, '!'}},
		// " hello" is one pre-token; after "hello" forms, rank 18 joins the space.
		{name: "leading space joins word", in: " hello", want: []int{idSpHello}},
		// `\s+(?!\S)` leaves the last of two spaces to the word: "hello", " ", " world".
		{name: "two spaces", in: "hello  world", want: []int{idHello, ' ', idSpWorld}},
		// "a", "   " (Ġ+Ġ leftmost, then a lone Ġ), " b".
		{name: "four spaces", in: "a    b", want: []int{'a', idSpSp, ' ', ' ', 'b'}},
		// Trailing run stays whole: Ġ+Ġ at 0 and 2 (leftmost first), then ĠĠ+ĠĠ, then a lone Ġ.
		{name: "trailing spaces", in: "     ", want: []int{idSp4, ' '}},
		// `\s*[\r\n]+` takes the three newlines: Ċ+Ċ leftmost, then a lone Ċ.
		{name: "newlines", in: "a\n\n\nb", want: []int{'a', idNlNl, '\n', 'b'}},
		{name: "two newlines", in: "\n\n", want: []int{idNlNl}},
		// "b c" (rank 11) beats "a b" (rank 12), and "a bc" is no merge.
		{name: "rank priority", in: "abc", want: []int{'a', idBC}},
		{name: "single merge", in: "ab", want: []int{idAB}},
		// Equal ranks merge leftmost first: "aa a", then "aa aa".
		{name: "tie leftmost", in: "aaa", want: []int{idAA, 'a'}},
		{name: "tie repeated", in: "aaaa", want: []int{idAA, idAA}},
		// b+c first makes the candidate a+b stale; then a+a.
		{name: "stale candidate", in: "aabc", want: []int{idAA, idBC}},
		// Qwen2 splits every digit, so "1 2" never applies.
		{name: "digits qwen2", in: "1212", want: []int{'1', '2', '1', '2'}},
		// Llama 3 splits runs of up to three digits: "121", "2".
		{name: "digits llama3", mods: mods(withSplitPattern(llama3Pattern)), in: "1212", want: []int{id12, '1', '2'}},
		// GPT-2 keeps the digit run whole: 1+2 at 0 and 2.
		{name: "digits gpt2", mods: mods(withGPT2(false)), in: "1212", want: []int{id12, id12}},
		{name: "gpt2 words", mods: mods(withGPT2(false)), in: "hello world", want: []int{idHello, idSpWorld}},
		{name: "gpt2 add_prefix_space", mods: mods(withGPT2(true)), in: "hello", want: []int{idSpHello}},
		{name: "contraction", in: "I'm", want: []int{'I', '\'', 'm'}},
		// é is C3 A9; no merges.
		{name: "unicode", in: "café", want: []int{'c', 'a', 'f', 0xc3, 0xa9}},
		// 😀 is F0 9F 98 80: ð+Ł (rank 15), then Ġ+ðŁ (rank 16) for " 😀".
		{name: "emoji", in: "😀", want: []int{idEmoji2, 0x98, 0x80}},
		{name: "emoji after space", in: "hi 😀", want: []int{'h', 'i', idEmoji2 + 1, 0x98, 0x80}},
		{name: "invalid utf-8", in: "a\xffb", want: []int{'a', 0xff, 'b'}},
		// Special tokens inside text stay single ids (sugarme/tokenizer drops them).
		{name: "special in text", in: "Hi<|eot_id|>hello", want: []int{'H', 'i', idEOT, idHello}},
		{name: "adjacent specials", in: "<|mdm_mask|><|mdm_mask|>", want: []int{idMask, idMask}},
		{
			name: "chatml turn", in: "<|im_start|>user\nHi<|im_end|>",
			want: []int{idIMStart, 'u', 's', 'e', 'r', '\n', 'H', 'i', idIMEnd},
		},
		{name: "longest added match", in: "<|im_start|>", want: []int{idIMStart}},
		{name: "shorter added match", in: "<|im", want: []int{idIMPrefix}},
		{name: "shorter added then text", in: "<|im_end", want: []int{idIMPrefix, '_', 'e', 'n', 'd'}},
		{
			name: "lstrip rstrip", in: "a <|mdm_mask|> b",
			mods: mods(withAddedFlags("<|mdm_mask|>", map[string]any{"lstrip": true, "rstrip": true})),
			want: []int{'a', idMask, 'b'},
		},
		{name: "no strip", in: "a <|mdm_mask|> b", want: []int{'a', ' ', idMask, ' ', 'b'}},
		{
			name: "single_word inside word", in: "x<think>",
			mods: mods(withAddedFlags("<think>", map[string]any{"single_word": true})),
			want: []int{'x', '<', 't', 'h', 'i', 'n', 'k', '>'},
		},
		{
			name: "single_word alone", in: "x <think>",
			mods: mods(withAddedFlags("<think>", map[string]any{"single_word": true})),
			want: []int{'x', ' ', idThink},
		},
		{name: "ignore_merges", mods: mods(xyz, ignoreMerges), in: "xyz", want: []int{400}},
		{name: "merges only", mods: mods(xyz), in: "xyz", want: []int{'x', 'y', 'z'}},
		// e + U+0301 composes to é (C3 A9) under NFC; otherwise it stays e, CC 81.
		{name: "nfc", mods: mods(nfc), in: "e\u0301", want: []int{0xc3, 0xa9}},
		{name: "no normalizer", in: "e\u0301", want: []int{'e', 0xcc, 0x81}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := newTestTokenizer(t, tc.mods...)
			got, err := tok.Encode(tc.in)
			if err != nil {
				t.Fatalf("Encode(%q) error: %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Encode(%q) (-want +got):\n%s", tc.in, diff)
			}
			// The cache must give the same answer the second time.
			again, err := tok.Encode(tc.in)
			if err != nil || !cmp.Equal(got, again, cmpopts.EquateEmpty()) {
				t.Errorf("second Encode(%q) = %v, %v, want %v", tc.in, again, err, got)
			}
		})
	}
}

func mods(m ...func(map[string]any)) []func(map[string]any) { return m }

func TestEncodeMissingByte(t *testing.T) {
	drop := func(doc map[string]any) { delete(model(doc)["vocab"].(map[string]any), string(byteRunes['q'])) }
	tok := newTestTokenizer(t, drop)
	if _, err := tok.Encode("q"); err == nil {
		t.Errorf("Encode(%q) error = nil, want an error for a byte without a token", "q")
	}
	withUnk := func(doc map[string]any) {
		model(doc)["unk_token"] = "<unk>"
		model(doc)["fuse_unk"] = true
		model(doc)["vocab"].(map[string]any)["<unk>"] = 500
	}
	tok = newTestTokenizer(t, drop, withUnk)
	got, err := tok.Encode("qqa")
	if want := []int{500, 'a'}; err != nil || !cmp.Equal(want, got) {
		t.Errorf("Encode(%q) = %v, %v, want %v (fused unk)", "qqa", got, err, want)
	}
}

func TestDecode(t *testing.T) {
	tok := newTestTokenizer(t)
	tests := []struct {
		name        string
		ids         []int
		skipSpecial bool
		want        string
	}{
		{name: "empty", ids: nil, want: ""},
		{name: "words", ids: []int{idHello, idSpWorld}, want: "hello world"},
		{name: "specials kept", ids: []int{idStartOfText, idHello, idEOT}, want: "<|startoftext|>hello<|eot_id|>"},
		{name: "specials skipped", ids: []int{idStartOfText, idHello, idEOT}, skipSpecial: true, want: "hello"},
		{name: "non-special added kept", ids: []int{idThink, idHe}, skipSpecial: true, want: "<think>he"},
		{name: "partial utf-8", ids: []int{idEmoji2}, want: "\xf0\x9f"},
		{name: "emoji", ids: []int{idEmoji2 + 1, 0x98, 0x80}, want: " 😀"},
		{name: "newlines", ids: []int{idNlNl, idSp4}, want: "\n\n    "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tok.Decode(tc.ids, tc.skipSpecial)
			if err != nil || got != tc.want {
				t.Errorf("Decode(%v, %v) = %q, %v, want %q", tc.ids, tc.skipSpecial, got, err, tc.want)
			}
		})
	}
}

func TestDecodeUnknownID(t *testing.T) {
	tok := newTestTokenizer(t)
	for _, id := range []int{-1, 290, 1 << 40} {
		if _, err := tok.Decode([]int{idHello, id}, false); !errors.Is(err, ErrUnknownID) {
			t.Errorf("Decode([%d %d]) error = %v, want ErrUnknownID", idHello, id, err)
		}
	}
}

func TestDecodeKnownSkipsUnknownIDs(t *testing.T) {
	tok := newTestTokenizer(t)
	want, err := tok.Decode([]int{idHello}, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tok.DecodeKnown([]int{-1, idHello, 290, 1 << 40})
	if err != nil || got != want {
		t.Errorf("DecodeKnown = %q, %v; want %q", got, err, want)
	}
}

func TestRoundTrip(t *testing.T) {
	inputs := []string{
		"", " ", "hello world", "  leading and trailing  ", "tabs\tand\r\nCRLF\n\n\n",
		"1234567890 3.14159", "I'M shouting, you're not", "naïve café — ünïcödé", "日本語のテキスト",
		"emoji 😀👍🏽👨‍👩‍👧 flags 🇫🇷", "a\u3000\u3000b\u00a0c", "\x00\x01\x7f\xff\xfe", "a\xc3(b",
		"<|eot_id|> specials <|im_start|>mixed<|im_end|>\n<|im",
	}
	toks := map[string]*Tokenizer{
		"qwen2":  newTestTokenizer(t),
		"llama3": newTestTokenizer(t, withSplitPattern(llama3Pattern)),
		"gpt2":   newTestTokenizer(t, withGPT2(false)),
	}
	for name, tok := range toks {
		for _, in := range inputs {
			ids, err := tok.Encode(in)
			if err != nil {
				t.Fatalf("%s: Encode(%q) error: %v", name, in, err)
			}
			got, err := tok.Decode(ids, false)
			if err != nil || got != in {
				t.Errorf("%s: Decode(Encode(%q)) = %q, %v, want the input", name, in, got, err)
			}
		}
	}
}

func TestTokenIDAndVocabSize(t *testing.T) {
	tok := newTestTokenizer(t)
	tests := []struct {
		content string
		wantID  int
		wantOK  bool
	}{
		{"<|mdm_mask|>", idMask, true},
		{"<|eot_id|>", idEOT, true},
		{"Ġworld", idSpWorld, true},
		{"a", 'a', true},
		{" world", 0, false},
		{"<|nope|>", 0, false},
	}
	for _, tc := range tests {
		id, ok := tok.TokenID(tc.content)
		if id != tc.wantID || ok != tc.wantOK {
			t.Errorf("TokenID(%q) = %d, %v, want %d, %v", tc.content, id, ok, tc.wantID, tc.wantOK)
		}
	}
	if got, want := tok.VocabSize(), idThink+1; got != want {
		t.Errorf("VocabSize() = %d, want %d", got, want)
	}
	if got, ok := tok.Token(idSpWorld); got != "Ġworld" || !ok {
		t.Errorf("Token(%d) = %q, %v, want %q, true", idSpWorld, got, ok, "Ġworld")
	}
	if got, ok := tok.Token(idIMEnd); got != "<|im_end|>" || !ok {
		t.Errorf("Token(%d) = %q, %v, want %q, true", idIMEnd, got, ok, "<|im_end|>")
	}
}

func TestParseErrors(t *testing.T) {
	set := func(path string, v any) func(map[string]any) {
		return func(doc map[string]any) {
			keys := strings.Split(path, ".")
			m := doc
			for _, k := range keys[:len(keys)-1] {
				m = m[k].(map[string]any)
			}
			m[keys[len(keys)-1]] = v
		}
	}
	split := func(pattern string) func(map[string]any) { return withSplitPattern(pattern) }
	tests := []struct {
		name    string
		mods    []func(map[string]any)
		wantErr string
	}{
		{name: "model type", mods: mods(set("model.type", "WordPiece")), wantErr: `tokenizer.json: model: type: "WordPiece"`},
		{name: "model missing", mods: mods(set("model", nil)), wantErr: "tokenizer.json: model: missing"},
		{name: "vocab empty", mods: mods(set("model.vocab", map[string]any{})), wantErr: "tokenizer.json: model: vocab: empty"},
		{name: "vocab negative id", mods: mods(withVocab(map[string]int{"zz": -3})), wantErr: `tokenizer.json: model: vocab["zz"]: id -3`},
		{name: "vocab duplicate id", mods: mods(withVocab(map[string]int{"zz": 5})), wantErr: "already used"},
		{name: "vocab not an object", mods: mods(set("model.vocab", []any{1})), wantErr: "tokenizer.json: model: json"},
		{name: "merge three parts", mods: mods(set("model.merges", []any{"a b c"})), wantErr: "tokenizer.json: model: merges[0]: "},
		{name: "merge wrong type", mods: mods(set("model.merges", []any{"h e", 7})), wantErr: "tokenizer.json: model: merges[1]: want"},
		{name: "merge pair length", mods: mods(set("model.merges", []any{[]any{"a"}})), wantErr: "merges[0]: pair has 1 elements"},
		{name: "merge unknown token", mods: mods(set("model.merges", []any{"h e", "he zz"})), wantErr: `merges[1]: token "zz" not in vocab`},
		{name: "merge result missing", mods: mods(set("model.merges", []any{"x y"})), wantErr: `merges[0]: merged token "xy" not in vocab`},
		{name: "byte_fallback", mods: mods(set("model.byte_fallback", true)), wantErr: "model: byte_fallback"},
		{name: "dropout", mods: mods(set("model.dropout", 0.1)), wantErr: "model: dropout"},
		{name: "subword prefix", mods: mods(set("model.continuing_subword_prefix", "##")), wantErr: "model: continuing_subword_prefix"},
		{name: "unk not in vocab", mods: mods(set("model.unk_token", "<unk>")), wantErr: `model: unk_token: "<unk>"`},
		{name: "added empty content", mods: mods(set("added_tokens", []any{map[string]any{"id": 1, "content": ""}})), wantErr: "tokenizer.json: added_tokens[0]: content: empty"},
		{name: "added no id", mods: mods(set("added_tokens", []any{map[string]any{"content": "x"}})), wantErr: "added_tokens[0]: id: missing"},
		{name: "added id clash", mods: mods(set("added_tokens", []any{map[string]any{"id": 1, "content": "x"}, map[string]any{"id": 1, "content": "y"}})), wantErr: "added_tokens[1]: id: 1 already used"},
		{name: "normalizer", mods: mods(set("normalizer", map[string]any{"type": "Lowercase"})), wantErr: `tokenizer.json: normalizer: type: "Lowercase"`},
		{name: "pre_tokenizer null", mods: mods(set("pre_tokenizer", nil)), wantErr: "tokenizer.json: pre_tokenizer: null"},
		{name: "pre_tokenizer type", mods: mods(withPreTokenizer(map[string]any{"type": "Whitespace"})), wantErr: `pre_tokenizer: type: "Whitespace"`},
		{name: "lookbehind", mods: mods(split(`(?<=a)b`)), wantErr: "pre_tokenizer: pretokenizers[0]: Split: pattern: lookaround"},
		{name: "negated class escape", mods: mods(split(`[\S]+`)), wantErr: `pretokenizers[0]: Split: pattern: \S inside`},
		{name: "bad regex", mods: mods(split(`(`)), wantErr: "pretokenizers[0]: Split: pattern: error parsing regexp"},
		{name: "split last", mods: mods(withPreTokenizer(map[string]any{"type": "Sequence", "pretokenizers": []any{map[string]any{"type": "Split", "pattern": map[string]any{"Regex": "a"}, "behavior": "Isolated"}}})), wantErr: "pretokenizers[0]: the last step must be ByteLevel"},
		{name: "split behavior", mods: mods(withPreTokenizer(map[string]any{"type": "Sequence", "pretokenizers": []any{map[string]any{"type": "Split", "pattern": map[string]any{"Regex": "a"}, "behavior": "Contiguous"}, map[string]any{"type": "ByteLevel"}}})), wantErr: `Split: behavior: "Contiguous"`},
		{name: "decoder", mods: mods(set("decoder", map[string]any{"type": "WordPiece"})), wantErr: `tokenizer.json: decoder: type: "WordPiece"`},
		{name: "decoder null", mods: mods(set("decoder", nil)), wantErr: "tokenizer.json: decoder: null"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(mustJSON(t, testDoc(tc.mods...)), nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse() error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	tj := mustJSON(t, testDoc())
	t.Run("without config", func(t *testing.T) {
		tok, err := Load(writeDir(t, map[string][]byte{TokenizerFile: tj}))
		if err != nil {
			t.Fatalf("Load() error: %v", err)
		}
		if tok.HasChatTemplate() {
			t.Errorf("HasChatTemplate() = true, want false")
		}
	})
	t.Run("missing tokenizer.json", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), TokenizerFile) {
			t.Errorf("Load(%q) error = %v, want one naming the directory and %s", dir, err, TokenizerFile)
		}
	})
	t.Run("corrupt tokenizer.json", func(t *testing.T) {
		_, err := Load(writeDir(t, map[string][]byte{TokenizerFile: []byte(`{"model": `)}))
		if err == nil || !strings.Contains(err.Error(), "tokenizer.json: ") {
			t.Errorf("Load() error = %v, want one naming %s", err, TokenizerFile)
		}
	})
	t.Run("corrupt config", func(t *testing.T) {
		_, err := Load(writeDir(t, map[string][]byte{TokenizerFile: tj, ConfigFile: []byte(`{"bos_token": 5}`)}))
		if err == nil || !strings.Contains(err.Error(), "tokenizer_config.json: bos_token") {
			t.Errorf("Load() error = %v, want one naming tokenizer_config.json: bos_token", err)
		}
	})
}

// TestConcurrentEncode shares one Tokenizer, and so its word cache, between goroutines; run it
// with -race.
func TestConcurrentEncode(t *testing.T) {
	tok := newTestTokenizer(t)
	want, err := tok.Encode("hello world  aabc 1212 😀")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				got, err := tok.Encode("hello world  aabc 1212 😀")
				if err != nil || !cmp.Equal(want, got) {
					t.Errorf("Encode() = %v, %v, want %v", got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestEncodeLongInput guards against quadratic behaviour on one huge pre-token and on a long
// text of many pre-tokens.
func TestEncodeLongInput(t *testing.T) {
	tok := newTestTokenizer(t)
	for _, in := range []string{strings.Repeat("a", 1<<18), strings.Repeat("hello world ", 1<<14), strings.Repeat(" ", 1<<18)} {
		ids, err := tok.Encode(in)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tok.Decode(ids, false); err != nil || got != in {
			t.Errorf("Decode(Encode(%d bytes)) does not round-trip: %v", len(in), err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	tok := newTestTokenizer(b)
	text := strings.Repeat("Hello world, the quick brown fox's 12345 jumps!\n\n  <|eot_id|> 😀 ", 64)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := tok.Encode(text); err != nil {
			b.Fatal(err)
		}
	}
}
