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

// Package cuda implements tensor.Backend on one NVIDIA GPU. It owns the device context, device
// memory, the kernels (CUDA C in kernels/, one operation per file, compiled to PTX for
// compute_80 and compute_90 by `go generate` and committed, so a build needs the CUDA headers
// and libraries but not nvcc) and the GEMMs (cuBLAS).
//
// Every file but this one carries the `cuda` build tag. The tag matters: gorgonia.org/cu, which
// the backend uses for the context, memory, module loading and kernel launches, calls cuInit in
// its package initialiser and exits the process when no GPU is present, so the default build of
// the runtime never links it. Build with `go build -tags cuda` against the CUDA 11.8 headers and
// libraries (Debian non-free: nvidia-cuda-dev, libcuda1); a test binary built so runs only on a
// machine with a GPU (hack/gpu-check.sh).
//
// # Precision
//
// Activations are F32 everywhere. WithPrecision(PrecisionBF16), what the runtime uses, keeps
// projection weights on the device in BF16 (Prepack converts them once: LLaDA and Dream ship
// BF16 weights, so nothing is lost) and multiplies with cublasGemmEx on tensor cores, BF16
// inputs with FP32 accumulation: the activation operand is rounded to BF16 first, as a BF16
// PyTorch model computes. PrecisionF32 keeps weights in F32 and multiplies with cublasSgemm
// through gorgonia.org/cu/blas: the mode the parity tests hold to the CPU reference's tolerances.
//
// # Execution
//
// All work runs on one OS thread that holds the CUDA context (gorgonia.org/cu's Ctx), in the
// order it is submitted, on the default stream, so the Backend is safe for concurrent use and
// operations never race on the device. Kernel launches are asynchronous; ToFloat32, ReadFloat32
// and Sync wait for them and report any error a kernel raised.
package cuda
