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
	"math"
	"testing"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// refRoPE returns x (L, H, Dh) rotated rotate-half style at the given positions, in float64.
func refRoPE(x []float32, positions []int, heads, dh int, theta float64) []float64 {
	want := widen(x)
	half := dh / 2
	for l, p := range positions {
		for h := range heads {
			v := want[(l*heads+h)*dh : (l*heads+h+1)*dh]
			for i := range half {
				angle := float64(p) * math.Pow(theta, -float64(2*i)/float64(dh))
				c, s := math.Cos(angle), math.Sin(angle)
				x1, x2 := v[i], v[i+half]
				v[i], v[i+half] = x1*c-x2*s, x2*c+x1*s
			}
		}
	}
	return want
}

func testRoPE(t *testing.T, b tensor.Backend) {
	r := newRand(9)
	tests := []struct {
		name      string
		positions []int
		heads, dh int
		theta     float64
	}{
		{"one position", []int{0}, 1, 2, 1e4},
		{"contiguous", []int{0, 1, 2, 3}, 2, 8, 1e4},
		{"non-contiguous", []int{5, 0, 17, 6, 40}, 3, 16, 5e5},
		{"repeated", []int{7, 7, 3}, 2, 32, 1e6},
		{"Dream theta", []int{1, 2, 30, 31}, 4, 64, 1e6},
	}
	for _, tc := range tests {
		n := len(tc.positions) * tc.heads * tc.dh
		xv := uniform(r, n, -2, 2)
		x := upload(t, b, xv, len(tc.positions), tc.heads, tc.dh)
		call := fmt.Sprintf("RoPE(x[%d %d %d], %v, %g) (%s)", len(tc.positions), tc.heads, tc.dh, tc.positions, tc.theta, tc.name)
		if err := b.RoPE(x, tc.positions, tc.theta); err != nil {
			t.Errorf("%s = %v", call, err)
			continue
		}
		checkNMSE(t, call, download(t, b, x), refRoPE(xv, tc.positions, tc.heads, tc.dh, tc.theta), tc.dh, nmseRoPE)
	}

	// Position 0 is the identity: cos 0 = 1 and sin 0 = 0 exactly.
	xv := uniform(r, 2*8, -2, 2)
	x := upload(t, b, xv, 2, 1, 8)
	if err := b.RoPE(x, []int{0, 0}, 1e4); err != nil {
		t.Fatalf("RoPE(x, [0 0], 1e4) = %v", err)
	}
	checkULP(t, "RoPE(x, [0 0], 1e4)", download(t, b, x), widen(xv), 0)

	errs := []struct {
		name      string
		shape     []int
		positions []int
		theta     float64
		wantErr   error
	}{
		{"odd Dh", []int{2, 1, 7}, []int{0, 1}, 1e4, tensor.ErrShape},
		{"rank 2", []int{2, 8}, []int{0, 1}, 1e4, tensor.ErrShape},
		{"positions short", []int{3, 1, 8}, []int{0, 1}, 1e4, tensor.ErrShape},
		{"negative position", []int{2, 1, 8}, []int{0, -1}, 1e4, tensor.ErrArgument},
		{"zero theta", []int{2, 1, 8}, []int{0, 1}, 0, tensor.ErrArgument},
		{"NaN theta", []int{2, 1, 8}, []int{0, 1}, math.NaN(), tensor.ErrArgument},
	}
	for _, tc := range errs {
		err := b.RoPE(alloc(t, b, tc.shape...), tc.positions, tc.theta)
		wantErr(t, fmt.Sprintf("RoPE(x%v, %v, %g) (%s)", tc.shape, tc.positions, tc.theta, tc.name), err, tc.wantErr)
	}
}
