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
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"dllm.dev/dllm-operator/runtime/tensor"
	"dllm.dev/dllm-operator/runtime/tensor/tensortest"
)

// isaNames are the instruction-set paths, each forced in turn by the parity tests.
var isaNames = []string{"avx512", "avx2", "go"}

// forEachPath runs fn on a fast backend for every instruction-set path and thread count,
// skipping the paths this CPU lacks.
func forEachPath(t *testing.T, fn func(t *testing.T, be *Backend)) {
	for _, name := range isaNames {
		var ks *kernels
		for _, k := range supportedKernels() {
			if k.name == name {
				ks = k
			}
		}
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/threads=%d", name, threads), func(t *testing.T) {
				if ks == nil {
					t.Skipf("this CPU cannot run the %s kernels", name)
				}
				fn(t, &Backend{threads: threads, kernels: ks})
			})
		}
	}
}

// TestConformancePaths runs the acceptance suite on every instruction-set path.
func TestConformancePaths(t *testing.T) {
	forEachPath(t, func(t *testing.T, be *Backend) { tensortest.Run(t, be) })
}

func upload(t *testing.T, data []float32, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := fromFloat32(tensor.F32, data, shape)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func normals(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func storage(x *tensor.Tensor) []float32 { return x.Data().([]float32) }

func TestMatMulParity(t *testing.T) {
	sizes := []int{1, 2, 3, 13, 14, 15, 31, 32, 33, 63, 100}
	shapes := make([][3]int, 0, 5*len(sizes)*len(sizes)+36)
	for _, m := range sizes {
		for _, n := range sizes {
			for _, k := range []int{0, 1, 3, 17, 64} {
				shapes = append(shapes, [3]int{m, n, k})
			}
		}
	}
	for _, m := range []int{1, 15, 33, 100} { // deeper K: several K blocks
		for _, n := range []int{1, 31, 100} {
			for _, k := range []int{100, 257, 513} {
				shapes = append(shapes, [3]int{m, n, k})
			}
		}
	}
	ref := NewReference()
	forEachPath(t, func(t *testing.T, be *Backend) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			av, bv := normals(r, m*k), normals(r, n*k)
			a, b := upload(t, av, m, k), upload(t, bv, n, k)
			got, want := upload(t, make([]float32, m*n), m, n), upload(t, make([]float32, m*n), m, n)
			for i := range storage(got) {
				storage(got)[i] = float32(math.NaN()) // every element must be written
			}
			must(t, be.MatMul(got, a, b), ref.MatMul(want, a, b))
			for i := range m {
				for j := range n {
					var mag float64
					for e := range k {
						mag += math.Abs(float64(av[i*k+e]) * float64(bv[j*k+e]))
					}
					g, w := storage(got)[i*n+j], storage(want)[i*n+j]
					// Each is within dotBound of the exact sum, so of each other within twice it.
					if d := math.Abs(float64(g) - float64(w)); !(d <= 2*dotBound(k, mag)) {
						t.Fatalf("MatMul %dx%dx%d [%d][%d] = %v, reference %v (difference %g > %g)",
							m, n, k, i, j, g, w, d, 2*dotBound(k, mag))
					}
				}
			}
		}
	})
}

func TestAttentionParity(t *testing.T) {
	tests := []struct {
		lq, lk, heads, kvHeads, dh int
		hidden                     []int // keys hidden by the mask
	}{
		{1, 1, 1, 1, 1, nil},
		{3, 5, 2, 1, 8, nil},
		{33, 17, 4, 2, 24, []int{0, 16}},
		{40, 300, 6, 2, 64, []int{3, 4, 5, 299}},
		{64, 64, 7, 1, 64, nil},
		{31, 70, 2, 2, 18, []int{69}},
		{17, 513, 2, 1, 32, nil},
		{8, 4100, 4, 4, 64, []int{0, 1, 2}},
		{fewQueries + 1, 200, 3, 1, 40, []int{7}},
		{queryChunk + 3, 90, 2, 2, 16, nil},
	}
	ref := NewReference()
	forEachPath(t, func(t *testing.T, be *Backend) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, tc := range tests {
			qv := normals(r, tc.lq*tc.heads*tc.dh)
			kv := normals(r, tc.lk*tc.kvHeads*tc.dh)
			vv := normals(r, tc.lk*tc.kvHeads*tc.dh)
			var mask []bool
			if tc.hidden != nil {
				mask = make([]bool, tc.lk)
				for j := range mask {
					mask[j] = true
				}
				for _, j := range tc.hidden {
					mask[j] = false
					for e := range tc.kvHeads * tc.dh { // would dominate if it leaked through
						kv[j*tc.kvHeads*tc.dh+e] *= 100
						vv[j*tc.kvHeads*tc.dh+e] = 1e6
					}
				}
			}
			q := upload(t, qv, tc.lq, tc.heads, tc.dh)
			k := upload(t, kv, tc.lk, tc.kvHeads, tc.dh)
			v := upload(t, vv, tc.lk, tc.kvHeads, tc.dh)
			got := upload(t, make([]float32, len(qv)), tc.lq, tc.heads, tc.dh)
			want := upload(t, make([]float32, len(qv)), tc.lq, tc.heads, tc.dh)
			if err := ref.Attention(want, q, k, v, mask); err != nil {
				t.Fatal(err)
			}
			// Both forms, whichever Attention would pick for this Lq.
			for _, few := range []bool{true, false} {
				a, err := checkAttention(got, q, k, v, mask)
				if err != nil {
					t.Fatal(err)
				}
				clear(a.d)
				be.attention(a, mask, few)
				// Outputs are convex combinations of values of magnitude ≲ 5: allow the rounding
				// of an lk-term fp32 sum on both sides and a few ULP per exponential.
				bound := float64(tc.lk+tc.dh+16) * 0x1p-23 * 5
				for i, w := range storage(want) {
					if d := math.Abs(float64(storage(got)[i]) - float64(w)); !(d <= bound) {
						t.Fatalf("Attention %+v (few-query form %v): element %d = %v, reference %v (difference %g > %g)",
							tc, few, i, storage(got)[i], w, d, bound)
					}
				}
			}
			if err := be.Attention(got, q, k, v, mask); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestElementwiseParity: the fast ops use the reference arithmetic (Softmax aside), split over
// threads; the sizes make forRows split them. Where the compiler may fuse multiply-adds
// differently in the two loops (not on amd64), RMSNorm and RoPE get a little slack.
func TestElementwiseParity(t *testing.T) {
	sameArith := 0.0
	if runtime.GOARCH != "amd64" {
		sameArith = 1e-6
	}
	ref := NewReference()
	forEachPath(t, func(t *testing.T, be *Backend) {
		r := rand.New(rand.NewPCG(11, 12))
		const rows, cols = 300, 257
		xv, yv, wv := normals(r, rows*cols), normals(r, rows*cols), normals(r, cols)
		x, y, w := upload(t, xv, rows, cols), upload(t, yv, rows, cols), upload(t, wv, cols)
		pair := func() (*tensor.Tensor, *tensor.Tensor) {
			return upload(t, make([]float32, rows*cols), rows, cols), upload(t, make([]float32, rows*cols), rows, cols)
		}
		check := func(name string, got, want *tensor.Tensor, tol float64) {
			t.Helper()
			for i, wv := range storage(want) {
				gv := storage(got)[i]
				if d := math.Abs(float64(gv) - float64(wv)); !(d <= tol*math.Abs(float64(wv))) && !(gv == wv) {
					t.Fatalf("%s[%d] = %v, reference %v", name, i, gv, wv)
				}
			}
		}
		g, want := pair()
		must(t, be.Add(g, x, y), ref.Add(want, x, y))
		check("Add", g, want, 0)
		g, want = pair()
		must(t, be.AddBias(g, x, w), ref.AddBias(want, x, w))
		check("AddBias", g, want, 0)
		g, want = pair()
		must(t, be.RMSNorm(g, x, w, 1e-5), ref.RMSNorm(want, x, w, 1e-5))
		check("RMSNorm", g, want, sameArith)
		g, want = pair()
		must(t, be.SiLUMul(g, x, y), ref.SiLUMul(want, x, y))
		check("SiLUMul", g, want, 4*0x1p-24) // a float32 exponential within 2 ULP

		g, want = pair()
		must(t, be.Softmax(g, x), ref.Softmax(want, x))
		check("Softmax", g, want, cols*0x1p-24) // the row sums round differently

		ids := make([]int, rows)
		for i := range ids {
			ids[i] = r.IntN(rows)
		}
		g, want = pair()
		must(t, be.Gather(g, x, ids), ref.Gather(want, x, ids))
		check("Gather", g, want, 0)

		const l, h, dh = 300, 4, 64
		pos := make([]int, l)
		rv := normals(r, l*h*dh)
		// Tabled positions twice (the second call reads the table the first built, grown for
		// the larger positions), then positions past the table's limit, computed per call.
		for _, shift := range []int{0, 5000, ropeTableLimit} {
			for i := range pos {
				pos[i] = 3*i + shift
			}
			got, wantR := upload(t, rv, l, h, dh), upload(t, rv, l, h, dh)
			must(t, be.RoPE(got, pos, 10000), ref.RoPE(wantR, pos, 10000))
			check(fmt.Sprintf("RoPE from position %d", shift), got, wantR, sameArith)
		}
	})
}

// TestSoftmaxSpecial checks the fast exponential's special cases through Softmax: masked
// logits (−Inf) get exactly 0, a NaN poisons its row as in the reference.
func TestSoftmaxSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	forEachPath(t, func(t *testing.T, be *Backend) {
		x := upload(t, []float32{-inf, 0, -inf, 1, -200, 3, -inf, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}, 1, 18)
		dst := upload(t, make([]float32, 18), 1, 18)
		must(t, be.Softmax(dst, x))
		for _, i := range []int{0, 2, 4, 6} {
			if v := storage(dst)[i]; v != 0 {
				t.Errorf("softmax of a masked logit = %v, want 0", v)
			}
		}
		x = upload(t, []float32{1, float32(math.NaN()), 2}, 1, 3)
		dst = upload(t, make([]float32, 3), 1, 3)
		must(t, be.Softmax(dst, x))
		for _, v := range storage(dst) {
			if v == v {
				t.Errorf("softmax of a row with NaN = %v, want NaN", storage(dst))
				break
			}
		}
	})
}

func must(t *testing.T, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// ulps is the distance between got and want in units in the last place of float32(want).
func ulps(got float32, want float64) float64 {
	w := float32(want)
	spacing := math.Nextafter32(float32(math.Abs(float64(w))), float32(math.Inf(1))) - float32(math.Abs(float64(w)))
	if w == 0 {
		spacing = math.SmallestNonzeroFloat32
	}
	return math.Abs(float64(got)-want) / float64(spacing)
}

func TestExpf(t *testing.T) {
	worst := 0.0
	for x := float32(-110); x < 88.7; x += 0.0137 {
		want := math.Exp(float64(x))
		if d := ulps(expf(x), want); d > worst {
			worst = d
		}
	}
	if worst > 2 {
		t.Errorf("expf: worst error %.2f ULP, want ≤ 2", worst)
	}
	inf := float32(math.Inf(1))
	for _, c := range []struct{ x, want float32 }{{0, 1}, {-inf, 0}, {-104, 0}, {inf, inf}, {89, inf}} {
		if got := expf(c.x); got != c.want {
			t.Errorf("expf(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if got := expf(float32(math.NaN())); got == got {
		t.Errorf("expf(NaN) = %v, want NaN", got)
	}
}

// TestSoftmaxPieces compares every path's vector routines with the scalar ones on lengths
// around the vector width.
func TestSoftmaxPieces(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, ks := range supportedKernels() {
		for _, n := range []int{1, 2, 15, 16, 17, 31, 32, 33, 47, 100} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 30)
			}
			if got, want := ks.maxOf(x), maxGo(x); got != want {
				t.Errorf("%s maxOf(%d values) = %v, want %v", ks.name, n, got, want)
			}
			got, want := make([]float32, n), make([]float32, n)
			gs := ks.expShift(got, x, 3, 0.7)
			var ws float64
			for i, v := range x {
				e := math.Exp(float64((v - 3) * 0.7))
				want[i] = float32(e)
				ws += e
				if d := ulps(got[i], e); d > 2 {
					t.Errorf("%s expShift[%d] of %d = %v, want %v (%.1f ULP)", ks.name, i, n, got[i], e, d)
				}
			}
			if d := math.Abs(float64(gs) - ws); d > float64(n)*0x1p-22*ws {
				t.Errorf("%s expShift sum of %d = %v, want %v", ks.name, n, gs, ws)
			}
		}
		for _, rows := range []int{1, 2, 5, 40} {
			width := 32
			s := make([]float32, rows*width)
			for i := range s {
				s[i] = float32(r.NormFloat64() * 10)
			}
			want, wsums := append([]float32(nil), s...), make([]float32, width)
			got, gsums := append([]float32(nil), s...), make([]float32, width)
			softmaxColsGo(want, rows, width, 0.125, wsums)
			ks.softmaxCols(got, rows, width, 0.125, gsums)
			for i := range want {
				if math.Abs(float64(got[i]-want[i])) > 4e-7*math.Max(1, math.Abs(float64(want[i]))) {
					t.Fatalf("%s softmaxCols rows=%d [%d] = %v, want %v", ks.name, rows, i, got[i], want[i])
				}
			}
			for c := range wsums {
				if math.Abs(float64(gsums[c]-wsums[c])) > float64(rows)*2e-7*float64(wsums[c]) {
					t.Fatalf("%s softmaxCols rows=%d sum[%d] = %v, want %v", ks.name, rows, c, gsums[c], wsums[c])
				}
			}
		}
	}
}

// TestErrorsMatchReference feeds both backends the same bad operands: the errors must be equal,
// since the validation code is shared, and nothing may be written.
func TestErrorsMatchReference(t *testing.T) {
	f := func(shape ...int) *tensor.Tensor {
		x, err := alloc(tensor.F32, shape)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	sq := f(4, 4)
	calls := []struct {
		name string
		call func(b tensor.Backend) error
	}{
		{"matmul shapes", func(b tensor.Backend) error { return b.MatMul(f(3, 5), f(3, 4), f(5, 3)) }},
		{"matmul alias", func(b tensor.Backend) error { return b.MatMul(sq, sq, f(4, 4)) }},
		{"matmul nil", func(b tensor.Backend) error { return b.MatMul(nil, sq, sq) }},
		{"add", func(b tensor.Backend) error { return b.Add(f(2, 3), f(3, 2), f(2, 3)) }},
		{"add bias", func(b tensor.Backend) error { return b.AddBias(f(2, 3), f(2, 3), f(2)) }},
		{"rmsnorm eps", func(b tensor.Backend) error { return b.RMSNorm(f(2, 3), f(2, 3), f(3), -1) }},
		{"rope theta", func(b tensor.Backend) error { return b.RoPE(f(2, 1, 4), []int{0, 1}, 0) }},
		{"rope position", func(b tensor.Backend) error { return b.RoPE(f(2, 1, 4), []int{0, -1}, 1e4) }},
		{"attention mask", func(b tensor.Backend) error {
			return b.Attention(f(2, 2, 4), f(2, 2, 4), f(2, 1, 4), f(2, 1, 4), []bool{false, false})
		}},
		{"attention heads", func(b tensor.Backend) error {
			return b.Attention(f(2, 3, 4), f(2, 3, 4), f(2, 2, 4), f(2, 2, 4), nil)
		}},
		{"silu mul", func(b tensor.Backend) error { return b.SiLUMul(f(2, 3), f(2, 3), f(3, 2)) }},
		{"softmax", func(b tensor.Backend) error { return b.Softmax(f(2, 0), f(2, 0)) }},
		{"gather id", func(b tensor.Backend) error { return b.Gather(f(1, 4), sq, []int{4}) }},
	}
	for _, c := range calls {
		want, got := c.call(NewReference()), c.call(New())
		if want == nil || got == nil || got.Error() != want.Error() {
			t.Errorf("%s: fast backend returned %v, reference %v", c.name, got, want)
		}
	}
}

// A prepacked weight gives exactly the product of the same weight packed per call, on every
// path, for shapes with partial panels, several K blocks and tall and short A.
func TestPrepackedMatMul(t *testing.T) {
	forEachPath(t, func(t *testing.T, be *Backend) {
		r := rand.New(rand.NewPCG(21, 22))
		for _, s := range [][3]int{{1, 1, 1}, {5, 33, 17}, {64, 512, 300}, {15, 40, 513}, {200, 70, 64}} {
			// A float32 weight, and one exact in bfloat16 (a checkpoint's), which the kernels
			// with a bfloat16 form store and read in it.
			for _, bf16 := range []bool{false, true} {
				m, n, k := s[0], s[1], s[2]
				wv := normals(r, n*k)
				if bf16 {
					for i, v := range wv {
						wv[i] = math.Float32frombits(math.Float32bits(v) &^ 0xffff)
					}
				}
				x, w := upload(t, normals(r, m*k), m, k), upload(t, wv, n, k)
				fresh := &Backend{threads: be.threads, kernels: be.kernels}
				want, got := upload(t, make([]float32, m*n), m, n), upload(t, make([]float32, m*n), m, n)
				must(t, fresh.MatMul(want, x, w), be.Prepack(w))
				p32, p16 := be.prepacked(be.gemmKernels(), storage(w), n, k)
				if p32 == nil && p16 == nil {
					t.Fatalf("%v: Prepack stored nothing", s)
				}
				if wantBF16 := bf16 && be.gemmKernels().kernelBF16 != nil; (p16 != nil) != wantBF16 {
					t.Fatalf("%v (bfloat16 weight %v): packed in bfloat16 = %v, want %v", s, bf16, p16 != nil, wantBF16)
				}
				must(t, be.MatMul(got, x, w))
				if !slices.Equal(storage(got), storage(want)) {
					t.Errorf("%v (bfloat16 weight %v): product with the prepacked weight differs from the per-call packing", s, bf16)
				}
			}
		}
		if err := be.Prepack(upload(t, make([]float32, 4), 4)); !errors.Is(err, tensor.ErrShape) {
			t.Errorf("Prepack of a vector = %v, want ErrShape", err)
		}
	})
}
