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

// Package tensor owns the device-neutral view of the runtime's numerics: the [Tensor] handle, the
// [Backend] interface that executes the operations a LLaDA or Dream forward pass needs, and the
// sentinel errors every backend returns. The interface belongs to its consumer (runtime/model);
// backends (runtime/backend/cpu, runtime/backend/cuda) implement it and prove it with
// tensortest.Run.
//
// # Imports
//
// The package imports only the standard library. Backends import tensor, never the reverse, and
// model code sees tensor.Backend only.
//
// # Shapes
//
// Tensors are dense, contiguous and row-major, outermost dimension first. The dimension names
// follow runtime/model's convention:
//
//	L    sequence length (the whole canvas: prompt plus masked generation region)
//	D    hidden size
//	H    query heads
//	Hkv  key/value heads; Hkv divides H (Hkv == H for LLaDA, Hkv < H for Dream's GQA)
//	Dh   head dimension, D == H*Dh
//	I    MLP width
//	V    vocabulary size
//
// Activations are (L, D); queries are (L, H, Dh) and keys and values (L, Hkv, Dh), which are
// the same bytes as (L, H*Dh) and (L, Hkv*Dh): [Tensor.Reshape] changes the view without
// copying. Linear weights keep PyTorch's [out, in] layout, so [Backend.MatMul] computes
// dst = a · bᵀ. Embedding tables and LM heads are (V, D); norm weights and biases are 1-D.
//
// # Storage and ownership
//
// A Tensor's storage is an opaque handle owned by the backend that allocated it (a Go slice for
// the CPU backend, device memory for a GPU backend). Passing a tensor to another backend is an
// error. Tensors returned by [Tensor.Reshape] share storage with their source. Backends that hold
// memory the Go garbage collector cannot see implement [Releaser]; call [Release] when a tensor
// is no longer needed.
//
// # Errors and concurrency
//
// Operations validate shapes and dtypes before touching memory and return an error wrapping
// [ErrShape], [ErrDType] or [ErrArgument]; they never panic on bad input. Operations may be
// asynchronous: [Backend.Sync] waits for queued work and [Backend.ToFloat32] waits for the work
// that writes its argument. A Backend is not safe for concurrent use unless its documentation
// says so.
package tensor
