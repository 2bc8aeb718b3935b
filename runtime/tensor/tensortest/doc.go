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

// Package tensortest is the acceptance suite for tensor.Backend implementations, in the style of
// testing/fstest and gonum's testblas. A backend's test file calls [Run]:
//
//	func TestConformance(t *testing.T) { tensortest.Run(t, cpu.New()) }
//
// Each operation is checked against a small float64 computation written here, independently of
// every backend (the CPU backend included), on seeded random inputs and on shape-error cases.
// Floats are never compared with == except for pure copies (Gather, host transfers).
//
// # Tolerances (F32)
//
// Elementwise operations are checked per element in units in the last place (ULP) of the float64
// reference rounded to float32; reductions are checked per row with the normalised mean squared
// error NMSE = Σ(got−want)² / Σwant², as ggml's test-backend-ops does:
//
//	FromFloat32, ToFloat32, Gather   exact (copies)
//	Add, AddBias                     ≤ 1 ULP (a correctly rounded sum is within 0.5)
//	SiLUMul                          ≤ 4 ULP
//	MatMul, RMSNorm, Softmax         NMSE ≤ 1e-10 per output row
//	Attention                        NMSE ≤ 1e-10 per (query, head) vector
//	RoPE                             NMSE ≤ 1e-9 per (position, head) vector: the angle is
//	                                 computed from fp32 tables, as the reference models do,
//	                                 so its error grows with the position (positions ≤ 40 here)
//
// Sizes are small (inner dimensions ≤ 64), so fp32 accumulation in any order stays well inside
// these bounds.
package tensortest
