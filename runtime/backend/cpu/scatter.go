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

// checkScatter validates Scatter's operands, ids included, and returns the storage and D.
func checkScatter(dst, src *tensor.Tensor, ids []int) (d, s []float32, dim int, err error) {
	if d, err = data(dst, dstName); err != nil {
		return nil, nil, 0, fmt.Errorf("cpu: scatter: %w", err)
	}
	if s, err = data(src, "src"); err != nil {
		return nil, nil, 0, fmt.Errorf("cpu: scatter: %w", err)
	}
	if dst.Rank() != 2 || src.Rank() != 2 || src.Dim(0) != len(ids) || src.Dim(1) != dst.Dim(1) {
		return nil, nil, 0, fmt.Errorf("cpu: scatter: dst %v, src %v, %d ids: %w", dst, src, len(ids), tensor.ErrShape)
	}
	if err := noAlias(d, s); err != nil {
		return nil, nil, 0, fmt.Errorf("cpu: scatter: %w", err)
	}
	rows := dst.Dim(0)
	ascending := true
	for r, id := range ids {
		if id < 0 || id >= rows {
			return nil, nil, 0, fmt.Errorf("cpu: scatter: id %d at %d outside [0, %d): %w", id, r, rows, tensor.ErrArgument)
		}
		ascending = ascending && (r == 0 || ids[r-1] < id)
	}
	if !ascending { // strictly ascending ids, what a feature cache passes, cannot repeat
		seen := make(map[int]struct{}, len(ids))
		for r, id := range ids {
			if _, dup := seen[id]; dup {
				return nil, nil, 0, fmt.Errorf("cpu: scatter: id %d repeated at %d: %w", id, r, tensor.ErrArgument)
			}
			seen[id] = struct{}{}
		}
	}
	return d, s, dst.Dim(1), nil
}

// Scatter copies the rows of src (len(ids), D) into the rows ids of dst (R, D):
//
//	for r, id := range ids { dst[id] = src[r] }
func (*Reference) Scatter(dst, src *tensor.Tensor, ids []int) error {
	d, s, dim, err := checkScatter(dst, src, ids)
	if err != nil {
		return err
	}
	for r, id := range ids {
		copy(d[id*dim:(id+1)*dim], s[r*dim:(r+1)*dim])
	}
	return nil
}

// Scatter copies rows as Reference.Scatter, rows split over threads (ids are distinct, so
// threads never write the same row).
func (be *Backend) Scatter(dst, src *tensor.Tensor, ids []int) error {
	d, s, dim, err := checkScatter(dst, src, ids)
	if err != nil {
		return err
	}
	be.forRows(len(ids), dim, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			id := ids[r]
			copy(d[id*dim:(id+1)*dim], s[r*dim:(r+1)*dim])
		}
	})
	return nil
}
