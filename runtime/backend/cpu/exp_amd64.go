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

// expShiftAVX512 sets dst[i] = e^((src[i]−shift)·scale) for i < n and returns their sum.
//
//go:noescape
func expShiftAVX512(dst, src *float32, n int, shift, scale float32) float32

// maxAVX512 returns the largest of x[0:n], n ≥ 1.
//
//go:noescape
func maxAVX512(x *float32, n int) float32

// softmaxCols32AVX512 is softmaxColsGo for width 32.
//
//go:noescape
func softmaxCols32AVX512(s *float32, rows int, scale float32, sums *float32)

func expShiftX86(dst, src []float32, shift, scale float32) float32 {
	if len(src) == 0 {
		return 0
	}
	_ = dst[len(src)-1]
	return expShiftAVX512(&dst[0], &src[0], len(src), shift, scale)
}

func maxX86(x []float32) float32 {
	return maxAVX512(&x[0], len(x)) // x[0] panics on an empty x, as maxGo does
}

func softmaxColsX86(s []float32, rows, width int, scale float32, sums []float32) {
	if width != 32 || rows == 0 {
		softmaxColsGo(s, rows, width, scale, sums)
		return
	}
	_, _ = s[rows*32-1], sums[31]
	softmaxCols32AVX512(&s[0], rows, scale, &sums[0])
}
