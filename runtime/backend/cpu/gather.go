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

// checkGather validates Gather's operands, ids included, and returns the storage and D.
func checkGather(dst, table *tensor.Tensor, ids []int) (d, tb []float32, dim int, err error) {
	d, err = data(dst, dstName)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("cpu: gather: %w", err)
	}
	tb, err = data(table, "table")
	if err != nil {
		return nil, nil, 0, fmt.Errorf("cpu: gather: %w", err)
	}
	if table.Rank() != 2 || dst.Rank() != 2 || dst.Dim(0) != len(ids) || dst.Dim(1) != table.Dim(1) {
		return nil, nil, 0, fmt.Errorf("cpu: gather: dst %v, table %v, %d ids: %w", dst, table, len(ids), tensor.ErrShape)
	}
	if err := noAlias(d, tb); err != nil {
		return nil, nil, 0, fmt.Errorf("cpu: gather: %w", err)
	}
	vocab := table.Dim(0)
	for r, id := range ids {
		if id < 0 || id >= vocab {
			return nil, nil, 0, fmt.Errorf("cpu: gather: id %d at %d outside [0, %d): %w", id, r, vocab, tensor.ErrArgument)
		}
	}
	return d, tb, table.Dim(1), nil
}

// Gather copies the embedding rows of table (V, D) selected by ids into dst (len(ids), D):
//
//	for r, id := range ids { dst[r] = table[id] }
func (*Reference) Gather(dst, table *tensor.Tensor, ids []int) error {
	d, tb, dim, err := checkGather(dst, table, ids)
	if err != nil {
		return err
	}
	for r, id := range ids {
		copy(d[r*dim:(r+1)*dim], tb[id*dim:(id+1)*dim])
	}
	return nil
}

// Gather copies embedding rows as Reference.Gather, rows split over threads.
func (be *Backend) Gather(dst, table *tensor.Tensor, ids []int) error {
	d, tb, dim, err := checkGather(dst, table, ids)
	if err != nil {
		return err
	}
	be.forRows(len(ids), dim, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			id := ids[r]
			copy(d[r*dim:(r+1)*dim], tb[id*dim:(id+1)*dim])
		}
	})
	return nil
}
