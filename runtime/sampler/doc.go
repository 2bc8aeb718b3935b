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

// Package sampler owns the diffusion denoising loops of the runtime: it turns a batch of
// prompts into responses by repeatedly asking a [Denoiser] for logits over a canvas of mask
// tokens and committing ("transferring") some masked positions per step. It owns the
// schedules (how many positions a step transfers), the per-position predictions (argmax,
// Gumbel-max, Dream's temperature / top-p / top-k sampling), the confidence measures that rank
// positions (low confidence, random, MaskGIT+, top-k margin, negative entropy) and the step
// callback that serves tests, tracing and streaming.
//
// Two loops are provided:
//
//   - [LLaDA] is the semi-autoregressive block sampler of LLaDA's reference generate()
//     (arXiv:2502.09992, ML-GSAI/LLaDA generate.py), including classifier-free guidance and
//     the EOS/EoT tricks of the paper's Appendix B.4.
//   - [Dream] is Dream 7B's diffusion_generate / _sample (Dream-org/Dream,
//     generation_utils.py) with its origin, maskgit_plus, topk_margin and entropy
//     algorithms.
//
// Both optionally run Fast-dLLM's confidence-aware parallel decoding (arXiv:2505.22618): each
// step transfers every candidate whose confidence reaches a threshold, at least one, so a
// sampler may take fewer steps than its budget. See [LLaDAOptions.Threshold] and
// [DreamOptions.Threshold] for the exact rules.
//
// # Canvas layout
//
// Prompts of unequal length are left-padded with the pad id to the longest; the pad counts go to
// [Denoiser.Logits], which must hide padding from every query. Every row of the canvas is then
// [pad | prompt | response], and the response region starts at the same position, the padded
// prompt length, in every row. The samplers only ever write response positions.
//
// # Deviations from the Python references
//
// The samplers reproduce the references' control flow and schedules exactly (transfer counts,
// block boundaries, the float32 timesteps of Dream), but:
//
//   - Random streams differ from PyTorch's. Randomness comes from math/rand/v2 PCG streams, one
//     per row, step and position (and one per row and step for Dream's alg_temp draw), all
//     derived from the options' Seed, so results do not depend on the order in which
//     positions are evaluated or on the other rows of the batch. Only settings without
//     randomness (temperature 0 with low-confidence remasking for LLaDA; temperature 0 with
//     alg_temp 0 for Dream's maskgit_plus, topk_margin and entropy) can reproduce the Python
//     output token for token, and only if the logits agree.
//   - Probabilities, confidences and Gumbel keys are computed in float64. LLaDA's official
//     sampler draws its Gumbel noise in float64 too, but its softmax runs in the logits' dtype
//     since mid-2025 (float64 before); Dream computes everything in the logits' dtype and
//     even stores confidences as such (bfloat16 for the released checkpoints). Near-ties may
//     therefore rank differently, and top-p may cut one token differently when a cumulative
//     probability lies within rounding of TopP. Ties are broken deterministically towards the
//     lower position (and the lower token id); PyTorch's topk gives no tie order.
//   - At temperature 0 LLaDA's token is argmax(logits), as in the official sampler. The copy of
//     the sampler in the dLLM-Cache repository takes argmax(exp(logits)) in the logits' dtype
//     instead, which differs only when several logits overflow exp (above about 88.7 in
//     float32 and bfloat16): it then returns the first overflowing id.
//   - Dream's timesteps are torch.linspace's float32 formula without fused multiply-adds; a
//     CUDA build of PyTorch may fuse them and differ in the last bit of some timesteps.
//   - The mask id is never predicted. The references could sample the mask id and write it
//     back, leaving the position masked; here the mask column is skipped when a token is
//     chosen (probabilities and confidences still include it, as in the references).
//   - Prompt positions are never candidates, even when a prompt contains the mask id (the
//     references would fill such a position).
//   - Dream's transfer count is the reference's, from the batch-mean mask count. Every row
//     starts with the same number of masks and commits the same number per step, so the mean
//     equals each row's count; the count is nonetheless capped at the row's own masks, and
//     the last step commits every remaining mask of every row, where the reference would
//     commit int(mean) positions per row.
//   - Parallel decoding (Threshold) is not part of either reference; it follows Fast-dLLM.
//
// # Imports
//
// The standard library only. The package does not import runtime/model; the models implement
// [Denoiser].
//
// # Invariants
//
//   - A committed (transferred) token is never changed again, and prompt and padding positions
//     are never changed.
//   - When a sampler returns without error, no response position holds the mask id.
//   - The samplers keep no state between calls and are safe for concurrent use with different
//     arguments. They call the Denoiser and the step callback from the calling goroutine only;
//     the per-position predictions of a step run on up to GOMAXPROCS goroutines when the step
//     has enough logits to pay for them, with results independent of the scheduling.
//   - Invalid options, prompts or vocabularies yield errors matching [ErrInvalidInput]; nothing
//     panics on bad input.
package sampler
