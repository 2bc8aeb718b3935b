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
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The test tokenizer is a miniature of LLaDA's and Qwen2's tokenizer.json, in the same format.
//
// Ids 0-255 are the byte-level symbols in byte order, so the id of an unmerged byte is the byte
// itself ('a' = 97, ' ' = 32 written "Ġ", '\n' = 10 written "Ċ"). Merge k of testMerges makes
// id 256+k. Added tokens have ids 300-309. Expected encodings in the tests are derived from
// these merges by hand; each test says how.
var testMerges = []string{
	"h e",      // 0: 256 he
	"l l",      // 1: 257 ll
	"he ll",    // 2: 258 hell
	"hell o",   // 3: 259 hello
	"Ġ w",      // 4: 260 Ġw
	"o r",      // 5: 261 or
	"Ġw or",    // 6: 262 Ġwor
	"l d",      // 7: 263 ld
	"Ġwor ld",  // 8: 264 Ġworld
	"Ġ Ġ",      // 9: 265 ĠĠ (two spaces)
	"Ċ Ċ",      // 10: 266 ĊĊ (two newlines)
	"b c",      // 11: 267 bc, ranked before "a b" to test rank priority
	"a b",      // 12: 268 ab
	"a a",      // 13: 269 aa, to test ties (leftmost first)
	"1 2",      // 14: 270 12
	"ð Ł",      // 15: 271 ðŁ, the bytes F0 9F that start most emoji
	"Ġ ðŁ",     // 16: 272 Ġ + F0 9F
	"ĠĠ ĠĠ",    // 17: 273 four spaces
	"Ġ hello",  // 18: 274 Ġhello
	"Ġworld !", // 19: 275 Ġworld!
}

// Ids of the merged tokens used in expectations.
const (
	idHe      = 256
	idHello   = 259
	idSpWorld = 264
	idSpSp    = 265
	idNlNl    = 266
	idBC      = 267
	idAB      = 268
	idAA      = 269
	id12      = 270
	idEmoji2  = 271
	idSp4     = 273
	idSpHello = 274
	idWorldEx = 275
)

// Added token ids.
const (
	idStartOfText = 300 + iota
	idEndOfText
	idStartHeader
	idEndHeader
	idEOT
	idMask
	idIMStart
	idIMEnd
	idIMPrefix
	idThink
)

var testAdded = []struct {
	content string
	special bool
}{
	{"<|startoftext|>", true},
	{"<|endoftext|>", true},
	{"<|start_header_id|>", true},
	{"<|end_header_id|>", true},
	{"<|eot_id|>", true},
	{"<|mdm_mask|>", true},
	{"<|im_start|>", true},
	{"<|im_end|>", true},
	{"<|im", false}, // a prefix of two others, to test the longest match
	{"<think>", false},
}

// Split regexes of real tokenizer.json files.
const (
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// testDoc returns the test tokenizer.json as a generic document with a Qwen2-style
// pre-tokenizer, modified by mods in order.
func testDoc(mods ...func(doc map[string]any)) map[string]any {
	vocab := map[string]any{}
	for b := range 256 {
		vocab[string(byteRunes[b])] = b
	}
	for i, m := range testMerges {
		l, r, _ := strings.Cut(m, " ")
		vocab[l+r] = 256 + i
	}
	merges := make([]any, len(testMerges))
	for i, m := range testMerges {
		merges[i] = m
	}
	added := make([]any, len(testAdded))
	for i, a := range testAdded {
		added[i] = map[string]any{
			"id": 300 + i, "content": a.content, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": a.special,
		}
	}
	doc := map[string]any{
		"version":      "1.0",
		"truncation":   nil,
		"padding":      nil,
		"added_tokens": added,
		"normalizer":   nil,
		"pre_tokenizer": map[string]any{
			"type": "Sequence",
			"pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": qwen2Pattern}, "behavior": "Isolated", "invert": false},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
			},
		},
		"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "",
			"end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": merges,
		},
	}
	for _, mod := range mods {
		mod(doc)
	}
	return doc
}

// model returns the model section of doc.
func model(doc map[string]any) map[string]any { return doc["model"].(map[string]any) }

// withPreTokenizer replaces the pre-tokenizer.
func withPreTokenizer(p any) func(map[string]any) {
	return func(doc map[string]any) { doc["pre_tokenizer"] = p }
}

// withSplitPattern uses a Sequence of Split(pattern) and ByteLevel, as Qwen2 and Llama 3 do.
func withSplitPattern(pattern string) func(map[string]any) {
	return withPreTokenizer(map[string]any{
		"type": "Sequence",
		"pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": pattern}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
		},
	})
}

// withGPT2 uses a lone ByteLevel pre-tokenizer with its built-in regex, as GPT-2 does.
func withGPT2(addPrefixSpace bool) func(map[string]any) {
	return withPreTokenizer(map[string]any{"type": "ByteLevel", "add_prefix_space": addPrefixSpace, "trim_offsets": true, "use_regex": true})
}

// withPairMerges writes the merges as ["a", "b"] pairs, the format of newer files.
func withPairMerges(doc map[string]any) {
	m := model(doc)
	list := m["merges"].([]any)
	pairs := make([]any, len(list))
	for i, s := range list {
		l, r, _ := strings.Cut(s.(string), " ")
		pairs[i] = []any{l, r}
	}
	m["merges"] = pairs
}

// withAddedFlags sets flags on the added token with this content.
func withAddedFlags(content string, flags map[string]any) func(map[string]any) {
	return func(doc map[string]any) {
		for _, a := range doc["added_tokens"].([]any) {
			if a := a.(map[string]any); a["content"] == content {
				maps.Copy(a, flags)
			}
		}
	}
}

// withVocab adds vocabulary entries.
func withVocab(entries map[string]int) func(map[string]any) {
	return func(doc map[string]any) {
		v := model(doc)["vocab"].(map[string]any)
		for k, id := range entries {
			v[k] = id
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newTestTokenizer parses the test tokenizer modified by mods, without a config.
func newTestTokenizer(t testing.TB, mods ...func(map[string]any)) *Tokenizer {
	t.Helper()
	tok, err := Parse(mustJSON(t, testDoc(mods...)), nil)
	if err != nil {
		t.Fatalf("Parse() error: %v", err)
	}
	return tok
}

// writeDir writes files (name -> content) into a new temporary directory.
func writeDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
