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

package testmodel

import (
	"bytes"
	"strconv"
	"strings"
)

// merges are the tokenizer's merges, in rank order; merge k makes id 256+k. They cover a few
// common English words so that encoding exercises the merge loop, and each merged token is
// distinct.
var merges = []string{
	"Ġ t", "h e", "Ġt he", "i n", "e r", "a n", "o n", "r e", "Ġ a", "e n",
	"o r", "Ġ s", "Ġ w", "l l", "he ll", "hell o", "Ġ hello", "Ġw or", "l d", "Ġwor ld",
	"Ġ i", "Ġi s", "Ġa n", "Ġan d", "Ġ o", "Ġo f", "Ċ Ċ", "Ġ Ġ", "i s", "t h",
}

// Chat templates, verbatim from the real tokenizer_config.json files.
const (
	// lladaTemplate is GSAI-ML/LLaDA-8B-Instruct's: BOS before the first message only, and the
	// assistant header always appended.
	lladaTemplate = `{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}`

	// dreamTemplate is the Qwen2.5 ChatML template that Dream-v0-Instruct-7B ships, without
	// its tools branch (the runtime does not offer tool calls), with the default system
	// message "You are a helpful assistant."
	dreamTemplate = `{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
{%- else %}
    {{- '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
`
)

// Split regexes of the real tokenizer.json files: LLaDA's is Llama 3's, Dream's is Qwen2's.
const (
	lladaPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	dreamPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// Special tokens of the families, in the order of the real vocabularies.
const (
	tokStartOfText = "<|startoftext|>"
	tokEndOfText   = "<|endoftext|>"
	tokMDMMask     = "<|mdm_mask|>"
	tokStartHeader = "<|start_header_id|>"
	tokEndHeader   = "<|end_header_id|>"
	tokEOT         = "<|eot_id|>"
	tokIMStart     = "<|im_start|>"
	tokIMEnd       = "<|im_end|>"
	tokMask        = "<|mask|>"
)

// vocab is a test model's tokenizer vocabulary.
type vocab struct {
	family string
	// tokens are the byte symbols and merged tokens, in id order.
	tokens []string
	// specials are the added tokens; special k has id len(tokens)+k.
	specials []string
}

// newVocab returns the vocabulary of family's test tokenizer.
func newVocab(family string) vocab {
	v := vocab{family: family, tokens: make([]string, 0, 256+len(merges))}
	for b := range 256 {
		v.tokens = append(v.tokens, string(byteRunes[b]))
	}
	for _, m := range merges {
		l, r, _ := strings.Cut(m, " ")
		v.tokens = append(v.tokens, l+r)
	}
	if family == FamilyDream {
		v.specials = []string{tokEndOfText, tokIMStart, tokIMEnd, tokMask}
	} else {
		v.specials = []string{tokStartOfText, tokEndOfText, tokMDMMask, tokStartHeader, tokEndHeader, tokEOT}
	}
	return v
}

// size is the number of tokens, the byte symbols, merges and special tokens.
func (v vocab) size() int { return len(v.tokens) + len(v.specials) }

// id returns the id of a special token; it panics for a token the family does not have,
// which is a bug in this package.
func (v vocab) id(special string) int {
	for k, s := range v.specials {
		if s == special {
			return len(v.tokens) + k
		}
	}
	panic("testmodel: no special token " + special + " in the " + v.family + " vocabulary")
}

// byteRunes is GPT-2's bytes_to_unicode table: the printable Latin-1 bytes map to themselves,
// the other 68 bytes to U+0100 onwards in byte order.
var byteRunes = func() [256]rune {
	var t [256]rune
	n := rune(0)
	for b := range 256 {
		if ('!' <= b && b <= '~') || (0xa1 <= b && b <= 0xac) || (0xae <= b && b <= 0xff) {
			t[b] = rune(b)
			continue
		}
		t[b] = 256 + n
		n++
	}
	return t
}()

// orderedVocab marshals the BPE vocabulary as a JSON object in id order, as the Hugging Face
// tokenizers library writes it (encoding/json would sort the keys).
type orderedVocab []string

// MarshalJSON implements json.Marshaler.
func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for id, tok := range v {
		if id > 0 {
			b.WriteByte(',')
		}
		k, err := marshal(tok)
		if err != nil {
			return nil, err
		}
		b.Write(bytes.TrimSuffix(k, []byte("\n")))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(id))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Types of tokenizer.json, with the fields in the order the tokenizers library writes them.
type (
	tokenizerFile struct {
		Version       string       `json:"version"`
		Truncation    any          `json:"truncation"`
		Padding       any          `json:"padding"`
		AddedTokens   []addedToken `json:"added_tokens"`
		Normalizer    any          `json:"normalizer"`
		PreTokenizer  any          `json:"pre_tokenizer"`
		PostProcessor any          `json:"post_processor"`
		Decoder       any          `json:"decoder"`
		Model         bpeModel     `json:"model"`
	}
	addedToken struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	bpeModel struct {
		Type                    string       `json:"type"`
		Dropout                 any          `json:"dropout"`
		UnkToken                any          `json:"unk_token"`
		ContinuingSubwordPrefix string       `json:"continuing_subword_prefix"`
		EndOfWordSuffix         string       `json:"end_of_word_suffix"`
		FuseUnk                 bool         `json:"fuse_unk"`
		ByteFallback            bool         `json:"byte_fallback"`
		IgnoreMerges            bool         `json:"ignore_merges"`
		Vocab                   orderedVocab `json:"vocab"`
		Merges                  [][2]string  `json:"merges"`
	}
	// component is a normalizer, pre-tokenizer, post-processor or decoder.
	component map[string]any
)

// tokenizerJSON returns the contents of tokenizer.json: a byte-level BPE with the family's
// split regex (Llama 3's for LLaDA, Qwen2's with NFC for Dream), merges written as pairs as
// newer files do, and the special tokens as added tokens.
func (v vocab) tokenizerJSON() ([]byte, error) {
	const typ = "type"
	byteLevel := component{typ: "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}
	pattern := lladaPattern
	var normalizer any
	if v.family == FamilyDream {
		pattern = dreamPattern
		normalizer = component{typ: "NFC"}
	}
	f := tokenizerFile{
		Version:    "1.0",
		Normalizer: normalizer,
		PreTokenizer: component{typ: "Sequence", "pretokenizers": []component{
			{typ: "Split", "pattern": component{"Regex": pattern}, "behavior": "Isolated", "invert": false},
			byteLevel,
		}},
		PostProcessor: byteLevel,
		Decoder:       byteLevel,
		Model: bpeModel{
			Type: "BPE", Vocab: v.tokens,
			Merges: make([][2]string, len(merges)),
		},
	}
	for i, m := range merges {
		l, r, _ := strings.Cut(m, " ")
		f.Model.Merges[i] = [2]string{l, r}
	}
	for k, s := range v.specials {
		f.AddedTokens = append(f.AddedTokens, addedToken{ID: len(v.tokens) + k, Content: s, Special: true})
	}
	return marshal(f)
}

// tokenizerConfigJSON returns the contents of tokenizer_config.json: the special tokens, the
// chat template and add_bos_token false (both templates write BOS themselves, or none).
func (v vocab) tokenizerConfigJSON() ([]byte, error) {
	c := map[string]any{
		"add_bos_token":                false,
		"add_eos_token":                false,
		"clean_up_tokenization_spaces": false,
		"tokenizer_class":              "PreTrainedTokenizerFast",
	}
	if v.family == FamilyDream {
		c["bos_token"] = tokEndOfText
		c["eos_token"] = tokEndOfText
		c["pad_token"] = tokEndOfText
		c["chat_template"] = dreamTemplate
		c["split_special_tokens"] = false
		c["errors"] = "replace"
		c["tokenizer_class"] = "Qwen2Tokenizer"
	} else {
		// LLaDA's tokenizer ends a chat turn at <|eot_id|>; config.json's eos_token_id is
		// <|endoftext|>, the padding the model writes after an answer.
		c["bos_token"] = tokStartOfText
		c["eos_token"] = tokEOT
		c["pad_token"] = tokEndOfText
		c["chat_template"] = lladaTemplate
	}
	return marshal(c)
}
