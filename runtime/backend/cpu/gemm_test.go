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
	"math/rand/v2"
	"slices"
	"testing"
)

// dotBound is the forward error bound of an fp32 dot product of n terms whose absolute products
// sum to mag: (n+1)·2⁻²⁴·mag.
func dotBound(n int, mag float64) float64 { return float64(n+1) * 0x1p-24 * mag }

// checkGEMM runs g with ks on the given threads and compares every element of C with a float64
// product, within dotBound. Elements of C's storage outside the M×N view must be untouched.
func checkGEMM(t *testing.T, ks *kernels, threads int, g *gemm) {
	t.Helper()
	const sentinel = float32(-12345.5)
	for i := range g.c.data {
		g.c.data[i] = sentinel
	}
	g.run(ks, threads)
	verifyGEMM(t, fmt.Sprintf("%s threads=%d", ks.name, threads), g, sentinel)
}

// verifyGEMM compares C with a float64 product of A and B; C's storage outside the M×N view
// must still hold sentinel.
func verifyGEMM(t *testing.T, name string, g *gemm, sentinel float32) {
	t.Helper()
	for i := range g.m {
		for j := range g.n {
			var want, mag float64
			for e := range g.k {
				av := float64(g.a.data[i*g.a.ld+e])
				if g.transA {
					av = float64(g.a.data[e*g.a.ld+i])
				}
				var bv float64
				if g.transB {
					bv = float64(g.b.data[j*g.b.ld+e])
				} else {
					bv = float64(g.b.data[e*g.b.ld+j])
				}
				want += av * bv
				mag += math.Abs(av * bv)
			}
			got := float64(g.c.data[i*g.c.ld+j])
			if d := math.Abs(got - want); !(d <= dotBound(g.k, mag)) {
				t.Fatalf("%s m=%d n=%d k=%d transA=%v transB=%v: C[%d][%d] = %v, want %v (error %g > %g)",
					name, g.m, g.n, g.k, g.transA, g.transB, i, j, got, want, d, dotBound(g.k, mag))
			}
		}
	}
	for i, v := range g.c.data {
		if r, c := i/g.c.ld, i%g.c.ld; (r >= g.m || c >= g.n) && v != sentinel {
			t.Fatalf("%s m=%d n=%d k=%d: C storage [%d][%d] outside the view was written", name, g.m, g.n, g.k, r, c)
		}
	}
}

// newGEMM returns a random problem; pad adds that many floats to every leading dimension.
func newGEMM(r *rand.Rand, m, n, k, pad int, transB bool) *gemm {
	return newGEMM2(r, m, n, k, pad, false, transB)
}

func newGEMM2(r *rand.Rand, m, n, k, pad int, transA, transB bool) *gemm {
	mat := func(rows, cols int) matrix {
		ld := cols + pad
		data := make([]float32, max(0, (rows-1)*ld+cols))
		for i := range data {
			data[i] = float32(r.NormFloat64())
		}
		return matrix{data: data, ld: ld}
	}
	g := &gemm{m: m, n: n, k: k, c: mat(m, n), transA: transA, transB: transB}
	if transA {
		g.a = mat(k, m)
	} else {
		g.a = mat(m, k)
	}
	if transB {
		g.b = mat(n, k)
	} else {
		g.b = mat(k, n)
	}
	return g
}

var awkward = []int{1, 2, 3, 13, 14, 15, 31, 32, 33, 63, 100}

func TestGEMMShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, ks := range supportedKernels() {
		for _, m := range awkward {
			for _, n := range awkward {
				for _, k := range []int{0, 1, 15, 17, 33, 100} {
					// Too small to be split: TestGEMMBlocks covers threads.
					checkGEMM(t, ks, 1, newGEMM2(r, m, n, k, (m+n+k)%3, k%2 == 0, k%3 != 0))
				}
			}
		}
	}
}

// TestGEMMBlocks covers the blocking: several K blocks, several column chunks (parallel
// units), row groups, several row blocks of A, and both layouts of A and B, with padded
// leading dimensions.
func TestGEMMBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	shapes := []struct{ m, n, k, maxPacked int }{
		{128, 96, 300, 0},    // two K blocks, row groups (too few column chunks for 2 threads)
		{45, 300, 260, 0},    // three column chunks
		{100, 40, 600, 7000}, // row blocks of one 14-row tile
	}
	for _, ks := range supportedKernels() {
		for _, threads := range []int{1, 3} {
			for _, s := range shapes {
				for _, trans := range [][2]bool{{false, true}, {true, false}} {
					g := newGEMM2(r, s.m, s.n, s.k, 7, trans[0], trans[1])
					g.maxPacked = s.maxPacked
					checkGEMM(t, ks, threads, g)
				}
			}
		}
	}
}

func TestPlanTiles(t *testing.T) {
	for _, hs := range [][]int{{14, 8, 4}, {6}, {4}} {
		for m := 1; m <= 300; m++ {
			tiles := planTiles(m, hs)
			row, padded := 0, 0
			for _, tl := range tiles {
				if tl.row != row || !slices.Contains(hs, tl.h) || tl.rows != min(tl.h, m-row) || tl.rows <= 0 {
					t.Fatalf("planTiles(%d, %v) = %+v: bad tile %+v", m, hs, tiles, tl)
				}
				row += tl.h
				padded += tl.h - tl.rows
			}
			if row < m || padded >= hs[len(hs)-1] {
				t.Fatalf("planTiles(%d, %v) = %+v: covers %d rows, %d padded", m, hs, tiles, row, padded)
			}
		}
	}
	if got := planTiles(128, []int{14, 8, 4}); len(got) != 10 {
		t.Errorf("planTiles(128) = %+v, want 8×14 + 2×8", got)
	}
}
