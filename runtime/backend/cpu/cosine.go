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

// cosineEps is PyTorch's default eps of cosine_similarity.
const cosineEps = 1e-8

// checkCosine validates Cosine's operands and returns the storage and D.
func checkCosine(dst, a, b *tensor.Tensor) (d, x, y []float32, dim int, err error) {
	d, x, y, err = data3(operand{dstName, dst}, operand{"a", a}, operand{"b", b})
	if err != nil {
		return nil, nil, nil, 0, fmt.Errorf("cpu: cosine: %w", err)
	}
	if a.Rank() != 2 || dst.Rank() != 1 || dst.Dim(0) != a.Dim(0) {
		return nil, nil, nil, 0, fmt.Errorf("cpu: cosine: dst %v, a %v: %w", dst, a, tensor.ErrShape)
	}
	if err := sameShape(operand{"a", a}, operand{"b", b}); err != nil {
		return nil, nil, nil, 0, fmt.Errorf("cpu: cosine: %w", err)
	}
	if err := noAlias(d, x, y); err != nil {
		return nil, nil, nil, 0, fmt.Errorf("cpu: cosine: %w", err)
	}
	return d, x, y, a.Dim(1), nil
}

// cosineRow is one row's similarity, accumulated in float32 in index order:
//
//	dot, aa, bb = Σ a·b, Σ a², Σ b²
//	cos = dot / sqrt(max(aa·bb, eps²))
func cosineRow(a, b []float32) float32 {
	var dot, aa, bb float32
	for i := range a {
		dot += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	return dot / float32(math.Sqrt(max(float64(aa)*float64(bb), cosineEps*cosineEps)))
}

// Cosine computes dst[i] = cos(a[i], b[i]) for every row (see tensor.Backend).
func (*Reference) Cosine(dst, a, b *tensor.Tensor) error {
	d, x, y, dim, err := checkCosine(dst, a, b)
	if err != nil {
		return err
	}
	for i := range d {
		d[i] = cosineRow(x[i*dim:(i+1)*dim], y[i*dim:(i+1)*dim])
	}
	return nil
}

// Cosine computes the similarities as Reference.Cosine, rows split over threads.
func (be *Backend) Cosine(dst, a, b *tensor.Tensor) error {
	d, x, y, dim, err := checkCosine(dst, a, b)
	if err != nil {
		return err
	}
	be.forRows(len(d), dim, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = cosineRow(x[i*dim:(i+1)*dim], y[i*dim:(i+1)*dim])
		}
	})
	return nil
}
