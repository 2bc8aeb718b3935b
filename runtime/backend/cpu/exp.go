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

import "math"

// Softmax is dominated by exponentials (attention takes Lq·Lk·H of them), so the fast backend
// computes them in float32 instead of through math.Exp in float64: within about 2 ULP, exactly
// 0 for −Inf, NaN for NaN.

// expf returns e^x in float32. With n = round(x·log2 e) and r = x − n·ln2 (ln2 split in a high
// part exact in few bits and a low correction, so r is nearly exact), e^r is its Taylor
// polynomial of degree 7 (|r| ≤ ln2/2, truncation error below 2⁻²⁷) and e^x = e^r·2ⁿ.
func expf(x float32) float32 {
	const (
		log2e = 1.44269504
		ln2Hi = 0.693359375
		ln2Lo = -2.12194440e-4
	)
	switch {
	case x != x: // NaN
		return x
	case x < -104: // e^x < 2⁻¹⁵⁰ rounds to 0; also −Inf
		return 0
	case x > 88.8: // e^x > MaxFloat32; also +Inf
		return float32(math.Inf(1))
	}
	n := float32(math.RoundToEven(float64(x * log2e)))
	// Explicit conversions round each step to float32 and keep the compiler from fusing them.
	r := float32(x - float32(n*ln2Hi))
	r = float32(r - float32(n*ln2Lo))
	p := float32(1.0 / 5040)
	p = float32(p*r) + 1.0/720
	p = float32(p*r) + 1.0/120
	p = float32(p*r) + 1.0/24
	p = float32(p*r) + 1.0/6
	p = float32(p*r) + 0.5
	p = float32(p*r) + 1
	p = float32(p*r) + 1
	e := int(n)
	switch {
	case e < -126: // subnormal result: scale in two steps
		p *= 0x1p-24
		e += 24
	case e > 127: // 2¹²⁸ is not a float32, p·2¹²⁸ may be
		p *= 2
		e--
	}
	return p * math.Float32frombits(uint32(e+127)<<23)
}

// expShiftGo sets dst[i] = e^((src[i]−shift)·scale) and returns Σ dst[i]; dst may be src.
func expShiftGo(dst, src []float32, shift, scale float32) float32 {
	dst = dst[:len(src)]
	var sum float32
	for i, v := range src {
		e := expf((v - shift) * scale)
		dst[i] = e
		sum += e
	}
	return sum
}

// maxGo returns the largest element of x (len ≥ 1), NaN if any is NaN.
func maxGo(x []float32) float32 {
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	return m
}

// softmaxColsGo turns every column c of the rows×width matrix s (row stride width) into its
// softmax numerators e^((s[j][c] − max_j s[j][c])·scale), in place, and stores the column
// sums in sums[:width].
func softmaxColsGo(s []float32, rows, width int, scale float32, sums []float32) {
	sums = sums[:width]
	m := make([]float32, width)
	copy(m, s[:width])
	for j := 1; j < rows; j++ {
		for c, v := range s[j*width : (j+1)*width] {
			m[c] = max(m[c], v)
		}
	}
	clear(sums)
	for j := range rows {
		row := s[j*width : (j+1)*width]
		for c, v := range row {
			e := expf((v - m[c]) * scale)
			row[c] = e
			sums[c] += e
		}
	}
}
