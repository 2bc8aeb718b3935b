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

// goKernels is the portable implementation: a 4×4 microkernel in plain Go (sixteen scalar
// accumulators the compiler keeps in registers) and a scalar transpose. It runs wherever no
// assembly kernel applies: other architectures, or amd64 without AVX2 and FMA.
var goKernels = &kernels{
	name:      "go",
	nr:        4,
	heights:   []int{4},
	kernel:    kernel4x4Go,
	transpose: transposeGo,

	expShift:    expShiftGo,
	maxOf:       maxGo,
	softmaxCols: softmaxColsGo,
	add:         addGo,
	sumSquares:  sumSquaresGo,
	scaleMul:    scaleMulGo,
	siluGate:    siluGateGo,
}

// transposeGo writes dst[k·ldd+i] = src[i·lds+k] for k < cols and i < rows, and zeros for
// rows ≤ i < lanes.
func transposeGo(dst []float32, ldd int, src []float32, lds, rows, lanes, cols int) {
	for i := range rows {
		for k, v := range src[i*lds : i*lds+cols] {
			dst[k*ldd+i] = v
		}
	}
	if rows < lanes {
		for k := range cols {
			clear(dst[k*ldd+rows : k*ldd+lanes])
		}
	}
}

// kernel4x4Go computes (or with acc adds) the 4×4 tile c = a·b, a and b packed kc×4.
func kernel4x4Go(_, kc int, a, b, c []float32, ldc int, acc bool) {
	a, b = a[:4*kc], b[:4*kc]
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for k := 0; k+4 <= len(a); k += 4 {
		ak, bk := a[k:k+4:k+4], b[k:k+4:k+4]
		a0, a1, a2, a3 := ak[0], ak[1], ak[2], ak[3]
		b0, b1, b2, b3 := bk[0], bk[1], bk[2], bk[3]
		c00, c01, c02, c03 = c00+a0*b0, c01+a0*b1, c02+a0*b2, c03+a0*b3
		c10, c11, c12, c13 = c10+a1*b0, c11+a1*b1, c12+a1*b2, c13+a1*b3
		c20, c21, c22, c23 = c20+a2*b0, c21+a2*b1, c22+a2*b2, c23+a2*b3
		c30, c31, c32, c33 = c30+a3*b0, c31+a3*b1, c32+a3*b2, c33+a3*b3
	}
	rows := [4][4]float32{
		{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33},
	}
	for i, r := range rows {
		ci := c[i*ldc : i*ldc+4 : i*ldc+4]
		if acc {
			ci[0], ci[1], ci[2], ci[3] = ci[0]+r[0], ci[1]+r[1], ci[2]+r[2], ci[3]+r[3]
		} else {
			copy(ci, r[:])
		}
	}
}
