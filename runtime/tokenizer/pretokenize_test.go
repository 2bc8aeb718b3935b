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
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestSplitKnown checks the translated regexes against splits worked out by hand with
// backtracking (Oniguruma) semantics; the comments give the alternative that matches.
func TestSplitKnown(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		in      string
		want    []string
	}{
		{name: "qwen2 words", pattern: qwen2Pattern, in: "Hello world", want: []string{"Hello", " world"}},
		// `\s+(?!\S)` takes two of three spaces; the third goes with the word.
		{name: "qwen2 three spaces", pattern: qwen2Pattern, in: "a   b", want: []string{"a", "  ", " b"}},
		// A single space before a digit: the lookahead fails, `\s+` takes it.
		{name: "qwen2 space before digit", pattern: qwen2Pattern, in: "a 1", want: []string{"a", " ", "1"}},
		{name: "qwen2 trailing spaces", pattern: qwen2Pattern, in: "abc  ", want: []string{"abc", "  "}},
		{name: "qwen2 leading spaces", pattern: qwen2Pattern, in: "   hi", want: []string{"  ", " hi"}},
		// `\s*[\r\n]+` backtracks to end at the last newline; the space goes with "b".
		{name: "qwen2 newlines", pattern: qwen2Pattern, in: "a  \n\n b", want: []string{"a", "  \n\n", " b"}},
		// "\n" by `\s*[\r\n]+`, then `\s+(?!\S)` gives back one of the two spaces.
		{name: "qwen2 newline then spaces", pattern: qwen2Pattern, in: "x\n  y", want: []string{"x", "\n", " ", " y"}},
		{name: "qwen2 digits", pattern: qwen2Pattern, in: "12345", want: []string{"1", "2", "3", "4", "5"}},
		{name: "qwen2 contraction any case", pattern: qwen2Pattern, in: "I'M", want: []string{"I", "'M"}},
		{name: "qwen2 punctuation", pattern: qwen2Pattern, in: "Hi!!! ok", want: []string{"Hi", "!!!", " ok"}},
		{name: "qwen2 punctuation newline", pattern: qwen2Pattern, in: "x.\n\ny", want: []string{"x", ".\n\n", "y"}},
		{name: "qwen2 emoji", pattern: qwen2Pattern, in: "hi 😀!", want: []string{"hi", " 😀!"}},
		// U+3000 is White_Space for Oniguruma's \s; with Go's ASCII \s the run would be
		// punctuation and stay whole.
		{name: "qwen2 unicode space", pattern: qwen2Pattern, in: "a\u3000\u3000b", want: []string{"a", "\u3000", "\u3000b"}},
		// U+00A0 is neither \r, \n, letter nor digit, so it prefixes the word.
		{name: "qwen2 nbsp", pattern: qwen2Pattern, in: "a\u00a0b", want: []string{"a", "\u00a0b"}},
		{name: "llama3 digits", pattern: llama3Pattern, in: "12345", want: []string{"123", "45"}},
		{name: "llama3 words", pattern: llama3Pattern, in: "Hello,   world", want: []string{"Hello", ",", "  ", " world"}},
		{name: "gpt2 digits", pattern: gpt2Pattern, in: "a 12345", want: []string{"a", " 12345"}},
		// GPT-2's contractions are case-sensitive: "'M" is punctuation then a word.
		{name: "gpt2 contraction case", pattern: gpt2Pattern, in: "I'M", want: []string{"I", "'", "M"}},
		{name: "gpt2 spaces", pattern: gpt2Pattern, in: "a   b  ", want: []string{"a", "  ", " b", "  "}},
		{name: "gpt2 newline", pattern: gpt2Pattern, in: "a\n\nb", want: []string{"a", "\n", "\n", "b"}},
		// The lookahead alternative alone: at index 1 it fails (one space before "b") and nothing
		// else matches, so the search moves on; at index 3 two spaces give back one.
		{name: "lookahead only", pattern: `\s+(?!\S)`, in: "a b  c", want: []string{"a b", " ", " c"}},
		{name: "lookahead only at end", pattern: `\s+(?!\S)`, in: "a  ", want: []string{"a", "  "}},
		{name: "string literal", pattern: regexpQuote("."), in: "a.b", want: []string{"a", ".", "b"}},
		{name: "empty matches ignored", pattern: `x*`, in: "axxb", want: []string{"a", "xx", "b"}},
		{name: "invalid utf-8", pattern: qwen2Pattern, in: "a\xffb c", want: []string{"a", "\xffb", " c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			re, err := compileSplitRegex(tc.pattern)
			if err != nil {
				t.Fatalf("compileSplitRegex(%q) error: %v", tc.pattern, err)
			}
			got := preStep{re: re}.split(nil, tc.in)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("split(%q) (-want +got):\n%s", tc.in, diff)
			}
			if strings.Join(got, "") != tc.in {
				t.Errorf("split(%q) = %q, which does not cover the input", tc.in, got)
			}
		})
	}
}

func TestSplitBehavior(t *testing.T) {
	re, err := compileSplitRegex(`-`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		behavior splitBehavior
		want     []string
	}{
		{splitIsolated, []string{"a", "-", "b", "-", "-", "c", "-"}},
		{splitRemoved, []string{"a", "b", "c"}},
		{splitMergedWithPrevious, []string{"a-", "b-", "-", "c-"}},
		{splitMergedWithNext, []string{"a", "-b", "-", "-c", "-"}},
	}
	for _, tc := range tests {
		got := preStep{re: re, behavior: tc.behavior}.split(nil, "a-b--c-")
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("split(%q) with behavior %d (-want +got):\n%s", "a-b--c-", tc.behavior, diff)
		}
	}
}

func TestCompileSplitRegexErrors(t *testing.T) {
	for _, pattern := range []string{`a(?=b)`, `a(?!b)`, `(?<=a)b`, `(?<!a)b`, `x|\s+(?!\S)|\s+(?!\S)`, `(\s+(?!\S))`, `[\S]`, `\`} {
		if _, err := compileSplitRegex(pattern); err == nil {
			t.Errorf("compileSplitRegex(%q) error = nil, want an error", pattern)
		}
	}
}

func TestByteLevelAlphabet(t *testing.T) {
	// Spot checks of GPT-2's table: printable ASCII is itself, space is Ġ, newline Ċ, 0xAD is
	// the last remapped byte.
	for b, want := range map[byte]rune{'a': 'a', '!': '!', ' ': 'Ġ', '\n': 'Ċ', 0x00: 'Ā', 0x7f: 'ġ', 0xad: 'Ń', 0xff: 'ÿ'} {
		if got := byteRunes[b]; got != want {
			t.Errorf("byteRunes[0x%02x] = %q, want %q", b, got, want)
		}
	}
	for b := range 256 {
		if got := unByteLevel(nil, byteLevel(string([]byte{byte(b)}))); len(got) != 1 || got[0] != byte(b) {
			t.Errorf("unByteLevel(byteLevel(0x%02x)) = %x", b, got)
		}
	}
}
