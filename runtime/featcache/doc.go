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

// Package featcache owns dLLM-Cache's policy and per-request state (dllm-cache-spec.md §1): the
// settings (prompt refresh interval K_p, response refresh interval K_r, transfer ratio rho),
// the refresh schedule, and the V-verify selection of the response tokens to recompute.
//
// The schedule is the reference's, exactly: a forward counter n starts at 1 after a request's
// reset and is never reset at block boundaries; a layer refreshes the prompt when
// (n−1) mod K_p == 0 and the response when (n−1) mod K_r == 0, and layer 0 always refreshes
// both (the reference's July-2025 fix). As an option a serving engine may also refresh
// everything at the first forward of every semi-autoregressive block.
//
// V-verify selects, per layer and row, the ⌊rho·G⌋ response tokens whose fresh value vectors are
// least cosine-similar to the cached ones (k = 0 means no partial update).
//
// Imports: the standard library only. The package is pure: it computes decisions, the model
// executes them.
package featcache
