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

// Package server is the runtime's HTTP front end: the OpenAI-compatible API (completions, chat
// completions, models; streaming over server-sent events) and the health and readiness probes
// of runtime/contract, on top of runtime/engine. It turns API requests into token-id requests
// (tokenizer, chat template, the max_tokens rule) and engine outcomes into OpenAI-style
// responses and errors.
//
// The max_tokens rule: the response region is max_tokens rounded up to a whole number of
// blocks (block_length, the server's default unless the request's dllm extension sets one);
// the number of denoising steps keeps the default steps-per-token ratio, rounded up to a
// multiple of the number of blocks, unless the extension sets steps. Output stops at the first
// end-of-sequence or end-of-turn token or stop sequence (finish_reason "stop"), else
// finish_reason is "length".
package server
