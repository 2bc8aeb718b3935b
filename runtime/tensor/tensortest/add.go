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

package tensortest

import (
	"fmt"
	"testing"

	"dllm.dev/dllm-operator/runtime/tensor"
)

func testAdd(t *testing.T, b tensor.Backend) {
	r := newRand(3)
	for _, shape := range [][]int{{1}, {9}, {4, 6}, {2, 3, 5}} {
		n, _ := tensor.NumElements(shape)
		av, bv := uniform(r, n, -100, 100), uniform(r, n, -1, 1)
		want := make([]float64, n)
		for i := range want {
			want[i] = float64(av[i]) + float64(bv[i])
		}
		dst := alloc(t, b, shape...)
		call := fmt.Sprintf("Add(dst, a, b) over %v", shape)
		if err := b.Add(dst, upload(t, b, av, shape...), upload(t, b, bv, shape...)); err != nil {
			t.Errorf("%s = %v", call, err)
			continue
		}
		checkULP(t, call, download(t, b, dst), want, ulpAdd)

		x := upload(t, b, av, shape...)
		if err := b.Add(x, x, upload(t, b, bv, shape...)); err != nil {
			t.Errorf("in-place %s = %v", call, err)
			continue
		}
		checkULP(t, "in-place "+call, download(t, b, x), want, ulpAdd)
	}
	wantErr(t, "Add([2 3], [2 3], [3 2])", b.Add(alloc(t, b, 2, 3), alloc(t, b, 2, 3), alloc(t, b, 3, 2)), tensor.ErrShape)
	wantErr(t, "Add([6], [2 3], [2 3])", b.Add(alloc(t, b, 6), alloc(t, b, 2, 3), alloc(t, b, 2, 3)), tensor.ErrShape)
}

func testAddBias(t *testing.T, b tensor.Backend) {
	r := newRand(4)
	for _, shape := range [][]int{{5}, {4, 6}, {2, 3, 8}} {
		n, cols := 1, shape[len(shape)-1]
		for _, d := range shape {
			n *= d
		}
		xv, bv := uniform(r, n, -10, 10), uniform(r, cols, -1, 1)
		want := make([]float64, n)
		for i := range want {
			want[i] = float64(xv[i]) + float64(bv[i%cols])
		}
		call := fmt.Sprintf("AddBias(x, x, bias) in place over %v", shape)
		x := upload(t, b, xv, shape...)
		if err := b.AddBias(x, x, upload(t, b, bv, cols)); err != nil {
			t.Errorf("%s = %v", call, err)
			continue
		}
		checkULP(t, call, download(t, b, x), want, ulpAdd)
	}
	x := alloc(t, b, 4, 6)
	wantErr(t, "AddBias(x[4 6], x, bias[4])", b.AddBias(x, x, alloc(t, b, 4)), tensor.ErrShape)
	wantErr(t, "AddBias(x[4 6], x, bias[1 6])", b.AddBias(x, x, alloc(t, b, 1, 6)), tensor.ErrShape)
	wantErr(t, "AddBias(dst[6 4], x[4 6], bias[6])", b.AddBias(alloc(t, b, 6, 4), x, alloc(t, b, 6)), tensor.ErrShape)
}
