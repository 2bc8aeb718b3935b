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

// refRMSNorm returns x (rows, D) normalised per row and scaled by w (D), in float64.
func refRMSNorm(x, w []float32, eps float64) []float64 {
	n := len(w)
	want := make([]float64, len(x))
	for r := 0; r < len(x); r += n {
		var ss float64
		for _, v := range x[r : r+n] {
			ss += float64(v) * float64(v)
		}
		scale := 1 / math.Sqrt(ss/float64(n)+eps)
		for i, v := range x[r : r+n] {
			want[r+i] = float64(v) * scale * float64(w[i])
		}
	}
	return want
}

func testRMSNorm(t *testing.T, b tensor.Backend) {
	r := newRand(6)
	tests := []struct {
		shape []int
		eps   float32
	}{
		{[]int{1, 1}, 1e-5}, {[]int{3, 16}, 1e-5}, {[]int{2, 3, 7}, 1e-6}, {[]int{4, 64}, 1e-6},
	}
	for _, tc := range tests {
		n, _ := tensor.NumElements(tc.shape)
		d := tc.shape[len(tc.shape)-1]
		xv, wv := uniform(r, n, -2, 2), uniform(r, d, 0.5, 1.5)
		if n >= 2*d { // rows of very different scale: each row is normalised on its own
			for i := range d {
				xv[i] *= 1000
				xv[d+i] *= 1e-3
			}
		}
		want := refRMSNorm(xv, wv, float64(tc.eps))
		call := fmt.Sprintf("RMSNorm(dst, x%v, w, %g)", tc.shape, tc.eps)
		dst := alloc(t, b, tc.shape...)
		if err := b.RMSNorm(dst, upload(t, b, xv, tc.shape...), upload(t, b, wv, d), tc.eps); err != nil {
			t.Errorf("%s = %v", call, err)
			continue
		}
		checkNMSE(t, call, download(t, b, dst), want, d, nmseReduce)

		x := upload(t, b, xv, tc.shape...)
		if err := b.RMSNorm(x, x, upload(t, b, wv, d), tc.eps); err != nil {
			t.Errorf("in-place %s = %v", call, err)
			continue
		}
		checkNMSE(t, "in-place "+call, download(t, b, x), want, d, nmseReduce)
	}
	x := alloc(t, b, 3, 8)
	wantErr(t, "RMSNorm(x[3 8], x, w[4])", b.RMSNorm(x, x, alloc(t, b, 4), 1e-5), tensor.ErrShape)
	wantErr(t, "RMSNorm(dst[8 3], x[3 8], w[8])", b.RMSNorm(alloc(t, b, 8, 3), x, alloc(t, b, 8), 1e-5), tensor.ErrShape)
	wantErr(t, "RMSNorm(x, x, w, -1)", b.RMSNorm(x, x, alloc(t, b, 8), -1), tensor.ErrArgument)
}
