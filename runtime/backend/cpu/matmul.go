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

package cpu

import (
	"fmt"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// checkMatMul validates MatMul's operands and returns their storage.
func checkMatMul(dst, a, b *tensor.Tensor) (d, x, w []float32, err error) {
	d, x, w, err = data3(operand{dstName, dst}, operand{"a", a}, operand{"b", b})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cpu: matmul: %w", err)
	}
	if a.Rank() != 2 || b.Rank() != 2 || dst.Rank() != 2 ||
		a.Dim(1) != b.Dim(1) || dst.Dim(0) != a.Dim(0) || dst.Dim(1) != b.Dim(0) {
		return nil, nil, nil, fmt.Errorf("cpu: matmul: dst %v = a %v · (b %v)ᵀ: %w", dst, a, b, tensor.ErrShape)
	}
	if err := noAlias(d, x, w); err != nil {
		return nil, nil, nil, fmt.Errorf("cpu: matmul: %w", err)
	}
	return d, x, w, nil
}

// MatMul computes dst = a · bᵀ for a (M, K), b (N, K) in PyTorch's [out, in] layout and
// dst (M, N), accumulating in float32:
//
//	for m := range M {
//		for n := range N {
//			var s float32
//			for k := range K { s += a[m][k] * b[n][k] }
//			dst[m][n] = s
//		}
//	}
func (*Reference) MatMul(dst, a, b *tensor.Tensor) error {
	d, x, w, err := checkMatMul(dst, a, b)
	if err != nil {
		return err
	}
	rows, cols, inner := a.Dim(0), b.Dim(0), a.Dim(1)
	for m := range rows {
		xm := x[m*inner : (m+1)*inner]
		for n := range cols {
			wn := w[n*inner : (n+1)*inner]
			var s float32
			for k := range inner {
				s += xm[k] * wn[k]
			}
			d[m*cols+n] = s
		}
	}
	return nil
}

// MatMul computes dst = a · bᵀ with the blocked SGEMM on up to Threads goroutines. Each
// element is an fp32 sum of the same products as Reference.MatMul, in a different order
// (blocks of kcBlock, fused multiply-adds), so it differs within the fp32 dot-product bound.
func (be *Backend) MatMul(dst, a, b *tensor.Tensor) error {
	d, x, w, err := checkMatMul(dst, a, b)
	if err != nil {
		return err
	}
	rows, cols, inner := a.Dim(0), b.Dim(0), a.Dim(1)
	ks := be.gemmKernels()
	g := gemm{
		m: rows, n: cols, k: inner,
		a: matrix{x, inner}, b: matrix{w, inner}, c: matrix{d, cols},
		transB: true,
	}
	g.packedB, g.packedB16 = be.prepacked(ks, w, cols, inner)
	g.run(ks, be.Threads())
	return nil
}
