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
	"testing"
)

// FuzzRoundTrip checks that Encode never fails or panics and that Decode(Encode(s)) == s for
// any string, with the Qwen2, Llama 3 and GPT-2 pre-tokenizers. Added tokens in s decode to
// their content, so the property holds for them too (none of the test tokens strips spaces).
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{
		"", "hello world", "a    b", "\n\n\n", "1212", "😀 🇫🇷", "a\xffb", "\u3000 \u00a0",
		"<|eot_id|><|im", "I'M", "e\u0301", "  \t\r\n x",
	} {
		f.Add(s)
	}
	toks := map[string]*Tokenizer{
		"qwen2":  newTestTokenizer(f),
		"llama3": newTestTokenizer(f, withSplitPattern(llama3Pattern)),
		"gpt2":   newTestTokenizer(f, withGPT2(false)),
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, tok := range toks {
			ids, err := tok.Encode(s)
			if err != nil {
				t.Fatalf("%s: Encode(%q) error: %v", name, s, err)
			}
			got, err := tok.Decode(ids, false)
			if err != nil || got != s {
				t.Fatalf("%s: Decode(Encode(%q)) = %q, %v, want the input", name, s, got, err)
			}
		}
	})
}

// FuzzLoad checks that arbitrary tokenizer.json and tokenizer_config.json contents never make
// Parse panic, and that a tokenizer that parses can encode and decode without panicking.
func FuzzLoad(f *testing.F) {
	valid := mustJSON(f, testDoc())
	f.Add(valid, []byte(nil))
	f.Add(mustJSON(f, testDoc(withPairMerges, withGPT2(true))), mustJSON(f, lladaConfig()))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"},"decoder":{"type":"ByteLevel"}}`),
		mustJSON(f, dreamConfig()))
	f.Add([]byte(`{"model":{"vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]},"added_tokens":[{"id":3,"content":"<s>","lstrip":true}],`+
		`"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\s+(?!\\S)|\\s+"},"behavior":"MergedWithNext"},{"type":"ByteLevel","use_regex":false}]},"decoder":{"type":"ByteLevel"}}`),
		[]byte(`{"chat_template":[{"name":"default","template":"{{ bos_token }}"}],"bos_token":{"content":"<s>"}}`))
	f.Add([]byte(`{"model":null}`), []byte(`{"chat_template": "{% for"}`))
	f.Fuzz(func(t *testing.T, tokenizerJSON, configJSON []byte) {
		tok, err := Parse(tokenizerJSON, configJSON)
		if err != nil {
			return
		}
		ids, err := tok.Encode("hello world <s> ab\n\n 😀 \xff")
		if err != nil {
			return
		}
		if _, err := tok.Decode(ids, true); err != nil {
			t.Fatalf("Decode(Encode(...)) error: %v", err)
		}
	})
}
