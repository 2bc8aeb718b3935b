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

// Add computes the residual sum of two tensors of the same shape; dst may be a or b:
//
//	for i := range dst { dst[i] = a[i] + b[i] }
func (*Backend) Add(dst, a, b *tensor.Tensor) error {
	d, x, y, err := data3(operand{dstName, dst}, operand{"a", a}, operand{"b", b})
	if err != nil {
		return fmt.Errorf("cpu: add: %w", err)
	}
	if err := sameShape(operand{dstName, dst}, operand{"a", a}, operand{"b", b}); err != nil {
		return fmt.Errorf("cpu: add: %w", err)
	}
	for i := range d {
		d[i] = x[i] + y[i]
	}
	return nil
}

// AddBias adds bias (N) to every row of x (..., N); dst has x's shape and may be x:
//
//	for r := range rows {
//		for j := range N { dst[r][j] = x[r][j] + bias[j] }
//	}
func (*Backend) AddBias(dst, x, bias *tensor.Tensor) error {
	d, xs, bs, err := data3(operand{dstName, dst}, operand{"x", x}, operand{"bias", bias})
	if err != nil {
		return fmt.Errorf("cpu: add bias: %w", err)
	}
	if err := sameShape(operand{dstName, dst}, operand{"x", x}); err != nil {
		return fmt.Errorf("cpu: add bias: %w", err)
	}
	if x.Rank() < 1 || bias.Rank() != 1 || bias.Dim(0) != x.Dim(-1) {
		return fmt.Errorf("cpu: add bias: x %v, bias %v: %w", x, bias, tensor.ErrShape)
	}
	if err := noAlias(d, bs); err != nil {
		return fmt.Errorf("cpu: add bias: %w", err)
	}
	n := len(bs)
	for i := range d {
		d[i] = xs[i] + bs[i%n]
	}
	return nil
}
