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

// The elementwise steps of Add, RMSNorm and SiLUMul, in plain Go. Each has an AVX-512 twin
// (elementwise_amd64.s) that performs the same IEEE operations lane by lane, so the two give
// identical results; the explicit float32 conversions keep the compiler from fusing a multiply
// and an add into one rounding.

// addGo sets d[i] = a[i] + b[i].
func addGo(d, a, b []float32) {
	d, b = d[:len(a)], b[:len(a)]
	for i, x := range a {
		d[i] = x + b[i]
	}
}

// sumSquaresGo returns Σ x[i]², summed in sixteen running sums s[i mod 16] folded as
// s[j] + s[j+8], then + s[j+4], + s[j+2], + s[j+1]: the order of one AVX-512 register.
func sumSquaresGo(x []float32) float32 {
	var s [16]float32
	i := 0
	for ; i+16 <= len(x); i += 16 {
		v := x[i : i+16 : i+16]
		for j, e := range v {
			s[j] += float32(e * e)
		}
	}
	for j, e := range x[i:] {
		s[j] += float32(e * e)
	}
	for w := 8; w >= 1; w /= 2 {
		for j := range w {
			s[j] += s[j+w]
		}
	}
	return s[0]
}

// scaleMulGo sets out[i] = (x[i]·scale)·w[i].
func scaleMulGo(out, x, w []float32, scale float32) {
	out, w = out[:len(x)], w[:len(x)]
	for i, v := range x {
		y := v * scale // cast back to x's dtype here; F32 needs no rounding
		out[i] = y * w[i]
	}
}

// siluGateGo sets d[i] = g[i] / (1 + e[i]) · u[i], e[i] being e^(−g[i]).
func siluGateGo(d, g, u, e []float32) {
	d, u, e = d[:len(g)], u[:len(g)], e[:len(g)]
	for i, gi := range g {
		d[i] = gi / (1 + e[i]) * u[i]
	}
}
