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

// checkSoftmax validates Softmax's operands and returns their storage and the row length.
func checkSoftmax(dst, x *tensor.Tensor) (d, xs []float32, n int, err error) {
	d, err = data(dst, dstName)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("cpu: softmax: %w", err)
	}
	xs, err = data(x, "x")
	if err != nil {
		return nil, nil, 0, fmt.Errorf("cpu: softmax: %w", err)
	}
	if err := sameShape(operand{dstName, dst}, operand{"x", x}); err != nil {
		return nil, nil, 0, fmt.Errorf("cpu: softmax: %w", err)
	}
	if x.Rank() < 1 || x.Dim(-1) == 0 {
		return nil, nil, 0, fmt.Errorf("cpu: softmax: x %v: %w", x, tensor.ErrShape)
	}
	return d, xs, x.Dim(-1), nil
}

// Softmax computes dst = softmax(x) over the last dimension; dst has x's shape and may be x.
// Per row of N elements:
//
//	m := max(x)
//	var sum float32
//	for i := range N { dst[i] = exp(x[i] - m); sum += dst[i] }
//	for i := range N { dst[i] /= sum }
func (*Reference) Softmax(dst, x *tensor.Tensor) error {
	d, xs, n, err := checkSoftmax(dst, x)
	if err != nil {
		return err
	}
	for r := 0; r < len(xs); r += n {
		softmaxRow(d[r:r+n], xs[r:r+n])
	}
	return nil
}

// softmaxRow writes softmax(x) to dst, which may be x.
func softmaxRow(dst, x []float32) {
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	var sum float32
	for i, v := range x {
		dst[i] = float32(math.Exp(float64(v - m)))
		sum += dst[i]
	}
	for i := range dst {
		dst[i] /= sum
	}
}

// Softmax computes dst = softmax(x) as Reference.Softmax, rows split over threads, with the
// vectorised float32 exponential of exp.go and a multiplication by 1/sum: within a few ULP of
// the reference per element.
func (be *Backend) Softmax(dst, x *tensor.Tensor) error {
	d, xs, n, err := checkSoftmax(dst, x)
	if err != nil {
		return err
	}
	ks := be.gemmKernels()
	be.forRows(len(xs)/n, n, func(lo, hi int) {
		for r := lo * n; r < hi*n; r += n {
			out, in := d[r:r+n], xs[r:r+n]
			inv := 1 / ks.expShift(out, in, ks.maxOf(in), 1)
			for i := range out {
				out[i] *= inv
			}
		}
	})
	return nil
}
