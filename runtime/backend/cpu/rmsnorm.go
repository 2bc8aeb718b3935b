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
	"math"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// checkRMSNorm validates RMSNorm's operands and returns their storage.
func checkRMSNorm(dst, x, w *tensor.Tensor, eps float32) (d, xs, ws []float32, err error) {
	d, xs, ws, err = data3(operand{dstName, dst}, operand{"x", x}, operand{"w", w})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cpu: rmsnorm: %w", err)
	}
	if err := sameShape(operand{dstName, dst}, operand{"x", x}); err != nil {
		return nil, nil, nil, fmt.Errorf("cpu: rmsnorm: %w", err)
	}
	if x.Rank() < 1 || w.Rank() != 1 || w.Dim(0) != x.Dim(-1) || x.Dim(-1) == 0 {
		return nil, nil, nil, fmt.Errorf("cpu: rmsnorm: x %v, w %v: %w", x, w, tensor.ErrShape)
	}
	if eps < 0 || math.IsNaN(float64(eps)) {
		return nil, nil, nil, fmt.Errorf("cpu: rmsnorm: eps %v: %w", eps, tensor.ErrArgument)
	}
	if err := noAlias(d, ws); err != nil {
		return nil, nil, nil, fmt.Errorf("cpu: rmsnorm: %w", err)
	}
	return d, xs, ws, nil
}

// RMSNorm normalises every row of x (..., D) and scales it by w (D); dst has x's shape and may
// be x. Per row, in float32 and in the order the spec gives (normalise, cast back to x's dtype,
// a no-op for F32, then multiply by the weight):
//
//	ss := Σ x[i]²            in sumSquaresGo's order (sixteen running sums, one SIMD
//	                         register's; PyTorch's order differs too)
//	scale := 1 / sqrt(ss/D + eps)
//	for i := range D { dst[i] = (x[i] * scale) * w[i] }
func (*Reference) RMSNorm(dst, x, w *tensor.Tensor, eps float32) error {
	d, xs, ws, err := checkRMSNorm(dst, x, w, eps)
	if err != nil {
		return err
	}
	n := len(ws)
	for r := 0; r < len(xs); r += n {
		rmsNormRow(goKernels, d[r:r+n], xs[r:r+n], ws, eps)
	}
	return nil
}

// RMSNorm normalises rows as Reference.RMSNorm, with the same per-row arithmetic, rows split
// over threads.
func (be *Backend) RMSNorm(dst, x, w *tensor.Tensor, eps float32) error {
	d, xs, ws, err := checkRMSNorm(dst, x, w, eps)
	if err != nil {
		return err
	}
	n := len(ws)
	ks := be.gemmKernels()
	be.forRows(len(xs)/n, n, func(lo, hi int) {
		for r := lo * n; r < hi*n; r += n {
			rmsNormRow(ks, d[r:r+n], xs[r:r+n], ws, eps)
		}
	})
	return nil
}

// rmsNormRow normalises one row x into out (which may be x) and scales it by w, with ks's
// elementwise steps (identical on every implementation).
func rmsNormRow(ks *kernels, out, x, w []float32, eps float32) {
	ss := ks.sumSquares(x)
	scale := float32(1 / math.Sqrt(float64(ss/float32(len(x))+eps)))
	ks.scaleMul(out, x, w, scale)
}
