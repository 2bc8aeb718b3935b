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

// addAVX512 is addGo over n values.
//
//go:noescape
func addAVX512(d, a, b *float32, n int)

// sumSquaresAVX512 is sumSquaresGo over n values.
//
//go:noescape
func sumSquaresAVX512(x *float32, n int) float32

// scaleMulAVX512 is scaleMulGo over n values.
//
//go:noescape
func scaleMulAVX512(out, x, w *float32, n int, scale float32)

// siluGateAVX512 is siluGateGo over n values.
//
//go:noescape
func siluGateAVX512(d, gate, up, e *float32, n int)

func addX86(d, a, b []float32) {
	if len(a) == 0 {
		return
	}
	_, _ = d[len(a)-1], b[len(a)-1]
	addAVX512(&d[0], &a[0], &b[0], len(a))
}

func sumSquaresX86(x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	return sumSquaresAVX512(&x[0], len(x))
}

func scaleMulX86(out, x, w []float32, scale float32) {
	if len(x) == 0 {
		return
	}
	_, _ = out[len(x)-1], w[len(x)-1]
	scaleMulAVX512(&out[0], &x[0], &w[0], len(x), scale)
}

func siluGateX86(d, g, u, e []float32) {
	if len(g) == 0 {
		return
	}
	_, _, _ = d[len(g)-1], u[len(g)-1], e[len(g)-1]
	siluGateAVX512(&d[0], &g[0], &u[0], &e[0], len(g))
}
