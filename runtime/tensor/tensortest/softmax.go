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

// refSoftmax returns softmax over each row of n elements of x, in float64.
func refSoftmax(x []float32, n int) []float64 {
	want := make([]float64, len(x))
	for r := 0; r < len(x); r += n {
		m := math.Inf(-1)
		for _, v := range x[r : r+n] {
			m = max(m, float64(v))
		}
		var sum float64
		for i, v := range x[r : r+n] {
			want[r+i] = math.Exp(float64(v) - m)
			sum += want[r+i]
		}
		for i := r; i < r+n; i++ {
			want[i] /= sum
		}
	}
	return want
}

func testSoftmax(t *testing.T, b tensor.Backend) {
	r := newRand(7)
	for _, shape := range [][]int{{1}, {10}, {3, 10}, {2, 2, 33}} {
		n, _ := tensor.NumElements(shape)
		d := shape[len(shape)-1]
		xv := uniform(r, n, -8, 8)
		if n > d { // a row of large logits: only correct with the maximum subtracted
			for i := range d {
				xv[d+i] += 1000
			}
		}
		want := refSoftmax(xv, d)
		call := fmt.Sprintf("Softmax(dst, x%v)", shape)
		dst := alloc(t, b, shape...)
		if err := b.Softmax(dst, upload(t, b, xv, shape...)); err != nil {
			t.Errorf("%s = %v", call, err)
			continue
		}
		checkNMSE(t, call, download(t, b, dst), want, d, nmseReduce)

		x := upload(t, b, xv, shape...)
		if err := b.Softmax(x, x); err != nil {
			t.Errorf("in-place %s = %v", call, err)
			continue
		}
		checkNMSE(t, "in-place "+call, download(t, b, x), want, d, nmseReduce)
	}
	wantErr(t, "Softmax(dst[3 4], x[4 3])", b.Softmax(alloc(t, b, 3, 4), alloc(t, b, 4, 3)), tensor.ErrShape)
}
