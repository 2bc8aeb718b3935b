//go:build cuda

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

package cuda

/*
#cgo LDFLAGS: -lcublas
#include <stdint.h>
#include <cublas_v2.h>

// dllm_gemm_bf16 computes, in cuBLAS's column-major terms, C (m×n, F32) = Aᵀ·B with A (k×m)
// and B (k×n) in BF16, accumulating in FP32 on tensor cores. Addresses travel as integers so no
// Go code converts a device address to a pointer.
static cublasStatus_t dllm_gemm_bf16(cublasHandle_t h, int m, int n, int k,
		uint64_t a, int lda, uint64_t b, int ldb, uint64_t c, int ldc) {
	const float alpha = 1.0f, beta = 0.0f;
	return cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha,
		(const void*)(uintptr_t)a, CUDA_R_16BF, lda,
		(const void*)(uintptr_t)b, CUDA_R_16BF, ldb, &beta,
		(void*)(uintptr_t)c, CUDA_R_32F, ldc,
		CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT_TENSOR_OP);
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gorgonia.org/cu"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// gemmExHandle is a cuBLAS handle of our own for cublasGemmEx: gorgonia.org/cu/blas wraps
// only the classic typed GEMMs (Sgemm, Dgemm, ...) and keeps its handle unexported, so the BF16
// tensor-core GEMM is a small cgo call.
type gemmExHandle struct {
	h  C.cublasHandle_t
	ok bool
}

// newGemmEx creates the handle on the context's thread.
func newGemmEx() (gemmExHandle, error) {
	var h C.cublasHandle_t
	if st := C.cublasCreate(&h); st != C.CUBLAS_STATUS_SUCCESS {
		return gemmExHandle{}, fmt.Errorf("cuda: create the cuBLAS handle for GemmEx: %s", C.GoString(C.cublasGetStatusString(st)))
	}
	return gemmExHandle{h: h, ok: true}, nil
}

func (g *gemmExHandle) destroy() {
	if g.ok {
		C.cublasDestroy(g.h)
		g.ok = false
	}
}

// devSlice presents n float32 values of device memory as a slice, the form gorgonia.org/cu/blas
// takes device operands in; the slice is only ever handed to cuBLAS, never read by Go. The
// address is reinterpreted in place rather than converted from an integer, which go vet rightly
// distrusts for Go memory; device memory is outside the Go heap, so the collector ignores it.
func devSlice(p cu.DevicePtr, n int) []float32 {
	return unsafe.Slice((*float32)(*(*unsafe.Pointer)(unsafe.Pointer(&p))), n)
}

// MatMul computes dst = a · bᵀ for a (M, K), b (N, K) and dst (M, N). Row-major a·bᵀ is, in
// cuBLAS's column-major terms, dstᵀ (N×M) = b (K×N, transposed) · aᵀ (K×M). A BF16 (prepacked)
// b runs on tensor cores with a rounded to BF16; an F32 b runs SGEMM.
func (b *Backend) MatMul(dst, x, w *tensor.Tensor) error {
	bufs, err := f32s(operand{dstName, dst}, operand{"a", x})
	var wb *buffer
	if err == nil {
		wb, err = storage(w, "b")
	}
	if err == nil && (x.Rank() != 2 || w.Rank() != 2 || dst.Rank() != 2 ||
		x.Dim(1) != w.Dim(1) || dst.Dim(0) != x.Dim(0) || dst.Dim(1) != w.Dim(0)) {
		err = fmt.Errorf("dst %v = a %v · (b %v)ᵀ: %w", dst, x, w, tensor.ErrShape)
	}
	if err == nil {
		err = noAlias(bufs[0], bufs[1], wb)
	}
	if err != nil {
		return fmt.Errorf("cuda: matmul: %w", err)
	}
	d, a := bufs[0], bufs[1]
	m, n, k := x.Dim(0), w.Dim(0), x.Dim(1)
	return b.do(func() error {
		switch {
		case m == 0 || n == 0:
			return nil
		case k == 0:
			if err := cu.MemsetD32(d.ptr, 0, int64(m*n)); err != nil {
				return fmt.Errorf("cuda: matmul: clear dst: %w", err)
			}
			return nil
		case wb.bf16:
			return b.gemmBF16(d, a, wb, m, n, k)
		}
		b.sgemm.Sgemm(blas.Trans, blas.NoTrans, n, m, k, 1, devSlice(wb.ptr, n*k), k, devSlice(a.ptr, m*k), k, 0, devSlice(d.ptr, m*n), n)
		if err := b.sgemm.Err(); err != nil {
			// The wrapper's error is sticky: later calls would silently do nothing, so the
			// handle is replaced.
			_ = b.sgemm.Close()
			if s, nerr := newSgemm(); nerr == nil {
				b.sgemm = s
			}
			return fmt.Errorf("cuda: matmul: sgemm %d×%d×%d: %w", m, n, k, err)
		}
		return nil
	})
}

// gemmBF16 rounds a to BF16 in scratch and multiplies it by the BF16 weight on tensor cores.
func (b *Backend) gemmBF16(d, a, w *buffer, m, n, k int) error {
	half, err := b.act.bytes(2 * m * k)
	if err != nil {
		return err
	}
	if err := b.k.launch1D(b.k.f32ToBF16, m*k, half, a.ptr, m*k); err != nil {
		return fmt.Errorf("cuda: matmul: round a to bf16: %w", err)
	}
	st := C.dllm_gemm_bf16(b.gemmEx.h, C.int(n), C.int(m), C.int(k),
		C.uint64_t(w.ptr), C.int(k), C.uint64_t(half), C.int(k), C.uint64_t(d.ptr), C.int(n))
	if st != C.CUBLAS_STATUS_SUCCESS {
		return fmt.Errorf("cuda: matmul: bf16 gemm %d×%d×%d: %s", m, n, k, C.GoString(C.cublasGetStatusString(st)))
	}
	return nil
}
