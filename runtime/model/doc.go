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

// Package model owns the forward pass the runtime's model families share: a bidirectional
// (non-causal) Llama-shaped transformer with RMSNorm, rotate-half RoPE, grouped-query attention,
// optional q/k/v biases and a SwiGLU MLP, followed by a final norm and an untied LM head. LLaDA
// and Dream are both this network; the sub-packages llada and dream say how each family names its
// tensors and what differs (Dream's biases and its one-position logit shift), and package
// families picks one from a checkpoint's config.
//
// The forward pass, per block (dllm-cache-spec.md §3.3, §4):
//
//	n1 = RMSNorm(x) · w_attn_norm
//	x  = x + O( Attention( RoPE(Q n1 + bq), RoPE(K n1 + bk), V n1 + bv ) )
//	n2 = RMSNorm(x) · w_ffn_norm
//	x  = x + Down( silu(Gate n2) · Up n2 )
//
// and logits = Head( RMSNorm(x) · w_final_norm ). Attention has no causal mask.
//
// # Batches and padding
//
// [Model.Logits] takes a batch of equal-length rows, left-padded: the first pad[b] positions of
// row b are padding. Padding keys are hidden from every query (a key-padding mask), and RoPE
// positions count from the first real token, as Dream's reference does with tok_idx. LLaDA's
// reference has no padding support of its own (its Oct-2025 update masks keys but keeps
// positions 0..L−1); counting positions from the first real token for both families makes a
// row's logits independent of the batch it is run in, which the serving engine relies on. With
// no padding both agree with the references exactly.
//
// # Numerics and storage
//
// Weights are converted from the checkpoint's dtype to F32 when a model is loaded, and every
// activation is F32; the backend decides the accumulation order (see runtime/tensor/tensortest
// for the tolerances). A Model is immutable after Load and safe for concurrent use if its backend
// is; each call takes its own activations from the model's idle buffers (a mutex-guarded free
// list by shape, at most 4 GiB), which finished calls and closed sessions return, so a long
// prompt's buffers are not allocated anew for every request.
//
// # Imports
//
// The package sees backends only through tensor.Backend and never names one (the linter's
// depguard rule model-no-backend enforces it); it reads weights through runtime/weights' Tensor
// type and does no file or network I/O.
package model
