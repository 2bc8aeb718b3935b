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
	"math"
	"testing"

	"dllm.dev/dllm-operator/runtime/tensor"
)

func testScatter(t *testing.T, b tensor.Backend) {
	const rows, dim = 6, 3
	base := uniform(newRand(21), rows*dim, -1, 1)
	sv := uniform(newRand(22), 3*dim, -1, 1)
	ids := []int{4, 0, 2}
	want := append([]float32(nil), base...)
	for r, id := range ids {
		copy(want[id*dim:(id+1)*dim], sv[r*dim:(r+1)*dim])
	}
	dst := upload(t, b, base, rows, dim)
	if err := b.Scatter(dst, upload(t, b, sv, 3, dim), ids); err != nil {
		t.Fatalf("Scatter(dst, src, %v) = %v", ids, err)
	}
	checkExact(t, "Scatter(dst, src, [4 0 2])", download(t, b, dst), want)

	src := upload(t, b, sv, 3, dim)
	wantErr(t, "Scatter to row 6 of 6", b.Scatter(alloc(t, b, rows, dim), src, []int{1, 2, 6}), tensor.ErrArgument)
	wantErr(t, "Scatter to row -1", b.Scatter(alloc(t, b, rows, dim), src, []int{-1, 2, 3}), tensor.ErrArgument)
	wantErr(t, "Scatter twice to row 2", b.Scatter(alloc(t, b, rows, dim), src, []int{2, 1, 2}), tensor.ErrArgument)
	wantErr(t, "Scatter 3 rows with 2 ids", b.Scatter(alloc(t, b, rows, dim), src, []int{1, 2}), tensor.ErrShape)
	wantErr(t, "Scatter rows of 3 into rows of 4", b.Scatter(alloc(t, b, rows, 4), src, ids), tensor.ErrShape)
}

func testCosine(t *testing.T, b tensor.Backend) {
	const n, dim = 5, 64
	r := newRand(23)
	av, bv := uniform(r, n*dim, -1, 1), uniform(r, n*dim, -1, 1)
	copy(bv[0:dim], av[0:dim]) // identical rows: 1
	for i := range dim {       // opposite rows: −1
		bv[dim+i] = -2 * av[dim+i]
	}
	clear(av[2*dim : 3*dim]) // a zero row: 0, not NaN
	dst := alloc(t, b, n)
	if err := b.Cosine(dst, upload(t, b, av, n, dim), upload(t, b, bv, n, dim)); err != nil {
		t.Fatalf("Cosine = %v", err)
	}
	got := download(t, b, dst)
	for i := range n {
		var dot, aa, bb float64
		for j := range dim {
			x, y := float64(av[i*dim+j]), float64(bv[i*dim+j])
			dot, aa, bb = dot+x*y, aa+x*x, bb+y*y
		}
		want := dot / math.Sqrt(max(aa*bb, 1e-16))
		if d := math.Abs(float64(got[i]) - want); d > 1e-5 || math.IsNaN(float64(got[i])) {
			t.Errorf("Cosine row %d = %v, want %v", i, got[i], want)
		}
	}
	a := upload(t, b, av, n, dim)
	wantErr(t, "Cosine(dst[4], a[5 64], b)", b.Cosine(alloc(t, b, 4), a, upload(t, b, bv, n, dim)), tensor.ErrShape)
	wantErr(t, "Cosine(dst, a[5 64], b[5 32])", b.Cosine(alloc(t, b, n), a, alloc(t, b, n, 32)), tensor.ErrShape)
	wantErr(t, "Cosine(dst[5 1], ...)", b.Cosine(alloc(t, b, n, 1), a, a), tensor.ErrShape)
}
