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

// refMatMul returns a (M, K) · b (N, K)ᵀ in float64.
func refMatMul(a, b []float32, m, n, k int) []float64 {
	want := make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for e := range k {
				s += float64(a[i*k+e]) * float64(b[j*k+e])
			}
			want[i*n+j] = s
		}
	}
	return want
}

func testMatMul(t *testing.T, b tensor.Backend) {
	r := newRand(2)
	tests := []struct{ m, n, k int }{
		{1, 1, 1}, {1, 7, 5}, {3, 5, 4}, {7, 16, 9}, {2, 33, 64}, {5, 3, 0},
	}
	for _, tc := range tests {
		av, bv := uniform(r, tc.m*tc.k, -1, 1), uniform(r, tc.n*tc.k, -1, 1)
		dst := alloc(t, b, tc.m, tc.n)
		call := fmt.Sprintf("MatMul(dst, a[%d %d], b[%d %d])", tc.m, tc.k, tc.n, tc.k)
		if err := b.MatMul(dst, upload(t, b, av, tc.m, tc.k), upload(t, b, bv, tc.n, tc.k)); err != nil {
			t.Errorf("%s = %v", call, err)
			continue
		}
		checkNMSE(t, call, download(t, b, dst), refMatMul(av, bv, tc.m, tc.n, tc.k), max(tc.n, 1), nmseReduce)
	}

	shapeErrs := []struct {
		name    string
		dst, a  []int
		b       []int
		wantErr error
	}{
		{"inner dims differ", []int{3, 5}, []int{3, 4}, []int{5, 3}, tensor.ErrShape},
		{"dst rows", []int{2, 5}, []int{3, 4}, []int{5, 4}, tensor.ErrShape},
		{"dst cols", []int{3, 4}, []int{3, 4}, []int{5, 4}, tensor.ErrShape},
		{"b not transposed", []int{3, 5}, []int{3, 4}, []int{4, 5}, tensor.ErrShape},
		{"rank 3 a", []int{3, 5}, []int{3, 4, 1}, []int{5, 4}, tensor.ErrShape},
		{"rank 1 b", []int{3, 1}, []int{3, 4}, []int{4}, tensor.ErrShape},
	}
	for _, tc := range shapeErrs {
		err := b.MatMul(alloc(t, b, tc.dst...), alloc(t, b, tc.a...), alloc(t, b, tc.b...))
		wantErr(t, fmt.Sprintf("MatMul(%v, %v, %v) (%s)", tc.dst, tc.a, tc.b, tc.name), err, tc.wantErr)
	}
	sq := alloc(t, b, 4, 4)
	wantErr(t, "MatMul(x, x, w) with dst aliasing a", b.MatMul(sq, sq, alloc(t, b, 4, 4)), tensor.ErrArgument)
}
