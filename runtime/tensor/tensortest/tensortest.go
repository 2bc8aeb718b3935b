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
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// Tolerances for tensor.F32; see the package documentation.
const (
	ulpAdd     = 1
	ulpSiLUMul = 4
	nmseReduce = 1e-10
	nmseRoPE   = 1e-9
)

// Run checks every operation of b against float64 references and reports failures on t.
func Run(t *testing.T, b tensor.Backend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, tensor.Backend)
	}{
		{"Transfer", testTransfer},
		{"Nil", testNil},
		{"MatMul", testMatMul},
		{"Add", testAdd},
		{"AddBias", testAddBias},
		{"RMSNorm", testRMSNorm},
		{"RoPE", testRoPE},
		{"Attention", testAttention},
		{"SiLUMul", testSiLUMul},
		{"Softmax", testSoftmax},
		{"Gather", testGather},
		{"Scatter", testScatter},
		{"Cosine", testCosine},
		{"Sync", testSync},
	}
	for _, tc := range tests {
		t.Run(b.Name()+"/"+tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

// newRand returns a deterministic generator for one test.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// uniform returns n values drawn uniformly from [lo, hi).
func uniform(r *rand.Rand, n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return x
}

// upload copies data to a new F32 tensor on b, failing the test on error.
func upload(t *testing.T, b tensor.Backend, data []float32, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := b.FromFloat32(tensor.F32, data, shape...)
	if err != nil {
		t.Fatalf("FromFloat32(F32, %d values, %v) = %v", len(data), shape, err)
	}
	return x
}

// alloc allocates a new F32 tensor on b, failing the test on error.
func alloc(t *testing.T, b tensor.Backend, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := b.Alloc(tensor.F32, shape...)
	if err != nil {
		t.Fatalf("Alloc(F32, %v) = %v", shape, err)
	}
	return x
}

// download copies x to the host, failing the test on error.
func download(t *testing.T, b tensor.Backend, x *tensor.Tensor) []float32 {
	t.Helper()
	d, err := b.ToFloat32(x)
	if err != nil {
		t.Fatalf("ToFloat32(%v) = %v", x, err)
	}
	return d
}

// wantErr reports a failure unless err matches target.
func wantErr(t *testing.T, call string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s = %v, want %v", call, err, target)
	}
}

// widen converts float32 values to float64.
func widen(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// checkNMSE reports every row of rowLen elements whose NMSE against want exceeds tol.
// A row whose reference is all zeros is held to Σ(got−want)² ≤ tol.
func checkNMSE(t *testing.T, call string, got []float32, want []float64, rowLen int, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s returned %d values, want %d", call, len(got), len(want))
	}
	for r := 0; r < len(want); r += rowLen {
		var num, den float64
		for i := r; i < r+rowLen; i++ {
			e := float64(got[i]) - want[i]
			num += e * e
			den += want[i] * want[i]
		}
		nmse := num
		if den > 0 {
			nmse = num / den
		}
		if !(nmse <= tol) {
			t.Errorf("%s row %d: NMSE = %.3g, want ≤ %.3g\n got  %v\n want %v", call, r/rowLen, nmse, tol, got[r:r+rowLen], want[r:r+rowLen])
			return
		}
	}
}

// checkULP reports every element whose distance from want exceeds tol units in the last place
// of float32(want).
func checkULP(t *testing.T, call string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s returned %d values, want %d", call, len(got), len(want))
	}
	for i, w := range want {
		if d := math.Abs(float64(got[i])-w) / ulp(w); !(d <= tol) {
			t.Errorf("%s[%d] = %v, want %v (%.2f ULP, want ≤ %v)", call, i, got[i], w, d, tol)
			return
		}
	}
}

// ulp returns the spacing of float32 values at |w|, never less than the spacing at the smallest
// normal float32.
func ulp(w float64) float64 {
	a := max(float32(math.Abs(w)), math.SmallestNonzeroFloat32*(1<<23))
	return float64(math.Nextafter32(a, float32(math.Inf(1))) - a)
}

// checkExact reports the first element of got that is not bit-identical to want.
func checkExact(t *testing.T, call string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s returned %d values, want %d", call, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("%s[%d] = %v, want %v", call, i, got[i], want[i])
			return
		}
	}
}

func testSync(t *testing.T, b tensor.Backend) {
	if err := b.Sync(context.Background()); err != nil {
		t.Errorf("Sync(background) = %v, want nil", err)
	}
}
