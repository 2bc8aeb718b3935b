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

// Package cpu implements tensor.Backend on the CPU twice:
//
//   - [Reference] ([NewReference]) is plain, readable Go loops over []float32, one goroutine,
//     each operation documented with the loop it computes (one file per operation). It is the
//     parity oracle for the fast backend and for other backends, not a fast backend itself.
//   - [Backend] ([New]) is the fast backend the runtime uses: a blocked SGEMM with assembly
//     microkernels (gemm.go), attention built on two SGEMMs per head and query block
//     (attention_fast.go), and the elementwise operations split over threads.
//
// Both check their operands with the same code (the check functions next to each reference
// operation), so they return the same errors, wrapping tensor.ErrShape, tensor.ErrDType or
// tensor.ErrArgument, and never panic on bad input. Tensors of either backend may be passed to
// the other.
//
// # Instruction sets
//
// The SGEMM computes C = A·Bᵀ (MatMul's weight layout) and C = A·B with leading dimensions, so
// attention runs it on strided per-head views. At run time, with golang.org/x/sys/cpu, it
// picks the fastest microkernel the CPU has: AVX-512 (14×32 tiles in 28 zmm accumulators, with
// 8- and 4-row tiles for the last rows, a 16×16 register transpose for packing, vectorised
// exponentials for softmax), else AVX2 with FMA (6×16 tiles), else portable Go (4×4 tiles), which
// is also the only path outside amd64. [Backend.ISA] reports the choice. There is no cgo.
//
// # Threads
//
// New(WithThreads(n)) bounds every operation to n goroutines; the default, like the zero
// Backend, is GOMAXPROCS read at each call. The goroutines come from a small persistent pool
// shared by all backends; an operation too small to pay for a hand-off (a few MFLOP of GEMM,
// tens of thousands of elements otherwise) runs on the caller alone. Every operation returns
// only when all of its work is done, so Sync just reports ctx.Err().
//
// # Numerics
//
// Only tensor.F32 is supported. The reference accumulates every sum (dot products, sums of
// squares, softmax denominators) in float32, in index order, as a straightforward fp32 PyTorch
// kernel would; transcendental functions are evaluated with package math in float64 and rounded
// to float32. RMSNorm follows the order the LLaDA and HF-Llama code use: normalise in fp32, cast
// back to the input dtype, then multiply by the weight.
//
// The fast backend keeps that arithmetic for the elementwise and row operations (Add, AddBias,
// RMSNorm, RoPE, Gather, Scatter, Cosine; bit-identical on amd64). Its SGEMM sums the same
// fp32 products in another order (K blocks, fused multiply-adds), so MatMul differs from the
// reference within the forward error bound of an fp32 dot product, |error| ≤ (K+1)·2⁻²⁴·Σ|a·b|.
// SiLUMul, softmax and attention use a float32 exponential within 2 ULP (exactly 0 for −Inf);
// softmax and attention multiply by the reciprocal of the sum, and attention drops masked keys and normalises after the product with V. All stay well inside
// the tolerances of runtime/tensor/tensortest.
//
// # Imports and storage
//
// The package imports the standard library, golang.org/x/sys/cpu and runtime/tensor. A
// tensor's storage is a Go []float32 of exactly Len elements; tensors are freed by the garbage
// collector, so neither backend implements tensor.Releaser. Both backends are safe for
// concurrent use, but concurrent operations must not write the same tensor.
package cpu
