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

// checkAdd validates Add's operands and returns their storage.
func checkAdd(dst, a, b *tensor.Tensor) (d, x, y []float32, err error) {
	d, x, y, err = data3(operand{dstName, dst}, operand{"a", a}, operand{"b", b})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cpu: add: %w", err)
	}
	if err := sameShape(operand{dstName, dst}, operand{"a", a}, operand{"b", b}); err != nil {
		return nil, nil, nil, fmt.Errorf("cpu: add: %w", err)
	}
	return d, x, y, nil
}

// Add computes the residual sum of two tensors of the same shape; dst may be a or b:
//
//	for i := range dst { dst[i] = a[i] + b[i] }
func (*Reference) Add(dst, a, b *tensor.Tensor) error {
	d, x, y, err := checkAdd(dst, a, b)
	if err != nil {
		return err
	}
	for i := range d {
		d[i] = x[i] + y[i]
	}
	return nil
}

// Add computes dst = a + b elementwise, as Reference.Add, split over threads.
func (be *Backend) Add(dst, a, b *tensor.Tensor) error {
	d, x, y, err := checkAdd(dst, a, b)
	if err != nil {
		return err
	}
	ks := be.gemmKernels()
	be.forRows(len(d), 1, func(lo, hi int) { ks.add(d[lo:hi], x[lo:hi], y[lo:hi]) })
	return nil
}

// checkAddBias validates AddBias's operands and returns their storage.
func checkAddBias(dst, x, bias *tensor.Tensor) (d, xs, bs []float32, err error) {
	d, xs, bs, err = data3(operand{dstName, dst}, operand{"x", x}, operand{"bias", bias})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cpu: add bias: %w", err)
	}
	if err := sameShape(operand{dstName, dst}, operand{"x", x}); err != nil {
		return nil, nil, nil, fmt.Errorf("cpu: add bias: %w", err)
	}
	if x.Rank() < 1 || bias.Rank() != 1 || bias.Dim(0) != x.Dim(-1) {
		return nil, nil, nil, fmt.Errorf("cpu: add bias: x %v, bias %v: %w", x, bias, tensor.ErrShape)
	}
	if err := noAlias(d, bs); err != nil {
		return nil, nil, nil, fmt.Errorf("cpu: add bias: %w", err)
	}
	return d, xs, bs, nil
}

// AddBias adds bias (N) to every row of x (..., N); dst has x's shape and may be x:
//
//	for r := range rows {
//		for j := range N { dst[r][j] = x[r][j] + bias[j] }
//	}
func (*Reference) AddBias(dst, x, bias *tensor.Tensor) error {
	d, xs, bs, err := checkAddBias(dst, x, bias)
	if err != nil {
		return err
	}
	n := len(bs)
	for i := range d {
		d[i] = xs[i] + bs[i%n]
	}
	return nil
}

// AddBias adds bias to every row of x, as Reference.AddBias, rows split over threads.
func (be *Backend) AddBias(dst, x, bias *tensor.Tensor) error {
	d, xs, bs, err := checkAddBias(dst, x, bias)
	if err != nil {
		return err
	}
	n := len(bs)
	if n == 0 {
		return nil
	}
	be.forRows(len(d)/n, n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			out, in := d[r*n:(r+1)*n], xs[r*n:(r+1)*n]
			for j, v := range in {
				out[j] = v + bs[j]
			}
		}
	})
	return nil
}
