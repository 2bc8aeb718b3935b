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

// Package tokenizer owns text <-> token id conversion for the runtime: it loads a Hugging Face
// tokenizer.json that describes a byte-level BPE model (the GPT-2 family, as used by LLaDA 8B,
// Llama 3 and Dream 7B / Qwen2.5), encodes and decodes with it, and renders the model's chat
// template from tokenizer_config.json.
//
// The package implements the BPE itself instead of using github.com/sugarme/tokenizer, because
// that library silently drops special tokens found in the input text, which turns a prompt that
// contains "<|eot_id|>" into different ids than the reference Python tokenizer produces.
//
// Pipeline of [Tokenizer.Encode], in the order of the Hugging Face tokenizers library:
//
//  1. The text is split on added tokens (leftmost, then longest match); each one found becomes
//     its id directly, honouring single_word, lstrip and rstrip. Added tokens are matched on
//     the raw text whatever their normalized flag says, which differs from the Python library
//     only for tokens whose content NFC would change.
//  2. The rest is normalized (null or NFC) and pre-tokenized (ByteLevel, or a Sequence of Split
//     steps followed by ByteLevel). Split regexes are written for Oniguruma; they are translated
//     to Go's RE2 syntax, see pretokenize.go for how `\s+(?!\S)` is handled without lookahead.
//  3. Each pre-token is mapped byte by byte to GPT-2's printable alphabet and merged by rank
//     (lowest rank first, leftmost on ties), with a bounded cache of recent words. With the
//     model's ignore_merges (Llama 3), a pre-token that is itself in the vocabulary is emitted
//     whole.
//
// [Tokenizer.Decode] reverses the byte-level mapping. It returns the decoded bytes as they are,
// so invalid UTF-8 in the input of Encode round-trips (the Python library would substitute
// U+FFFD); callers that stream partial sequences should check utf8.ValidString.
//
// Encode never adds BOS or EOS; the chat template or the caller decides (see [Config]).
//
// Imports: the standard library, github.com/ardanlabs/jinja for chat templates and
// golang.org/x/text/unicode/norm for the NFC normalizer; never k8s.io or sigs.k8s.io.
//
// Invariants: a *Tokenizer is immutable after [Load] or [Parse] returns, except for its internal
// word cache, which is guarded by a mutex, so one Tokenizer is safe for concurrent use. Corrupt
// or unsupported files yield errors that name the file and the field; they never panic.
package tokenizer
