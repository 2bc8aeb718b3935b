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
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Every implementation's elementwise steps equal the Go twins bit for bit, tails included.
func TestElementwiseTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, ks := range supportedKernels() {
		for _, n := range []int{0, 1, 7, 15, 16, 17, 33, 100, 512, 1001} {
			a, b, c := normals(r, n), normals(r, n), normals(r, n)
			e := make([]float32, n)
			for i := range e {
				e[i] = float32(math.Exp(float64(-a[i])))
			}
			want, got := make([]float32, n), make([]float32, n)
			addGo(want, a, b)
			ks.add(got, a, b)
			if !slices.Equal(got, want) {
				t.Errorf("%s add n=%d differs from addGo", ks.name, n)
			}
			if g, w := ks.sumSquares(a), sumSquaresGo(a); math.Float32bits(g) != math.Float32bits(w) {
				t.Errorf("%s sumSquares n=%d = %v, sumSquaresGo %v", ks.name, n, g, w)
			}
			scaleMulGo(want, a, b, 0.37)
			ks.scaleMul(got, a, b, 0.37)
			if !slices.Equal(got, want) {
				t.Errorf("%s scaleMul n=%d differs from scaleMulGo", ks.name, n)
			}
			siluGateGo(want, a, c, e)
			ks.siluGate(got, a, c, e)
			if !slices.Equal(got, want) {
				t.Errorf("%s siluGate n=%d differs from siluGateGo", ks.name, n)
			}
		}
	}
}
