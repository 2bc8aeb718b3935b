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

// Softmax computes dst = softmax(x) over the last dimension; dst has x's shape and may be x.
// Per row of N elements:
//
//	m := max(x)
//	var sum float32
//	for i := range N { dst[i] = exp(x[i] - m); sum += dst[i] }
//	for i := range N { dst[i] /= sum }
func (*Backend) Softmax(dst, x *tensor.Tensor) error {
	d, err := data(dst, dstName)
	if err != nil {
		return fmt.Errorf("cpu: softmax: %w", err)
	}
	xs, err := data(x, "x")
	if err != nil {
		return fmt.Errorf("cpu: softmax: %w", err)
	}
	if err := sameShape(operand{dstName, dst}, operand{"x", x}); err != nil {
		return fmt.Errorf("cpu: softmax: %w", err)
	}
	if x.Rank() < 1 || x.Dim(-1) == 0 {
		return fmt.Errorf("cpu: softmax: x %v: %w", x, tensor.ErrShape)
	}
	n := x.Dim(-1)
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
