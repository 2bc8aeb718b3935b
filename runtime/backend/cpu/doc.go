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

// Package cpu is the reference implementation of tensor.Backend: plain, readable Go loops over
// []float32, one file per operation, each documented with the loop it computes. It is the parity
// oracle for faster backends, not a fast backend itself.
//
// # Numerics
//
// Only tensor.F32 is supported. Every sum (dot products, sums of squares, softmax denominators)
// accumulates in float32, in index order, as a straightforward fp32 PyTorch kernel would;
// transcendental functions are evaluated with package math in float64 and rounded to float32.
// RMSNorm follows the order the LLaDA and HF-Llama code use: normalise in fp32, cast back to the
// input dtype, then multiply by the weight.
//
// # Imports and storage
//
// The package imports the standard library and runtime/tensor only. A tensor's storage is a Go
// []float32 of exactly Len elements; tensors are freed by the garbage collector, so the backend
// does not implement tensor.Releaser. A Backend has no mutable state and is safe for concurrent
// use, but concurrent operations must not write the same tensor.
package cpu
