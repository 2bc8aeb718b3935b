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

import "golang.org/x/sys/cpu"

// The assembly routines take raw pointers; their Go wrappers below check every length first,
// so a wrong caller fails with an index panic instead of touching foreign memory.

// sgemmKernel14x32 computes (acc: adds) the 14×32 tile c = a·b, a packed kc×14, b kc×32.
//
//go:noescape
func sgemmKernel14x32(kc int, a, b, c *float32, ldc int, acc bool)

// sgemmKernel8x32 is sgemmKernel14x32 for 8-row tiles.
//
//go:noescape
func sgemmKernel8x32(kc int, a, b, c *float32, ldc int, acc bool)

// sgemmKernel4x32 is sgemmKernel14x32 for 4-row tiles.
//
//go:noescape
func sgemmKernel4x32(kc int, a, b, c *float32, ldc int, acc bool)

// sgemmKernel6x16 computes (acc: adds) the 6×16 tile c = a·b with AVX2 and FMA.
//
//go:noescape
func sgemmKernel6x16(kc int, a, b, c *float32, ldc int, acc bool)

// sgemmKernelS14x32 is sgemmKernel14x32 reading B in place: row k is b[k·ldb : k·ldb+32].
//
//go:noescape
func sgemmKernelS14x32(kc int, a, b *float32, ldb int, c *float32, ldc int, acc bool)

// sgemmKernelS8x32 is sgemmKernelS14x32 for 8-row tiles.
//
//go:noescape
func sgemmKernelS8x32(kc int, a, b *float32, ldb int, c *float32, ldc int, acc bool)

// sgemmKernelS4x32 is sgemmKernelS14x32 for 4-row tiles.
//
//go:noescape
func sgemmKernelS4x32(kc int, a, b *float32, ldb int, c *float32, ldc int, acc bool)

// sbgemmKernel14x32 is sgemmKernel14x32 with b a packed panel of bfloat16 values.
//
//go:noescape
func sbgemmKernel14x32(kc int, a *float32, b *uint16, c *float32, ldc int, acc bool)

// sbgemmKernel8x32 is sbgemmKernel14x32 for 8-row tiles.
//
//go:noescape
func sbgemmKernel8x32(kc int, a *float32, b *uint16, c *float32, ldc int, acc bool)

// sbgemmKernel4x32 is sbgemmKernel14x32 for 4-row tiles.
//
//go:noescape
func sbgemmKernel4x32(kc int, a *float32, b *uint16, c *float32, ldc int, acc bool)

// transpose16 writes dst[(16b+j)·ldd+i] = src[i·lds+16b+j] for b < blocks, j < 16, i < lanes,
// reading only rows i < rows and writing zeros for rows ≤ i < lanes (AVX-512).
//
//go:noescape
func transpose16(dst *float32, ldd int, src *float32, lds, rows, lanes, blocks int)

// prefetchRows hints rows rows of cols floats, row stride lds, into L2.
//
//go:noescape
func prefetchRows(p *float32, lds, rows, cols int)

// prefetchX86 issues prefetchRows for src after checking its extent.
func prefetchX86(src []float32, lds, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	_ = src[(rows-1)*lds+cols-1]
	prefetchRows(&src[0], lds, rows, cols)
}

// avx512Kernels is the AVX-512 implementation: 14×32 tiles (28 zmm accumulators), with 8- and
// 4-row tiles for the last rows, and a 16×16 register transpose for packing.
var avx512Kernels = &kernels{
	name:          "avx512",
	nr:            32,
	heights:       []int{14, 8, 4},
	kernel:        kernelAVX512,
	kernelBF16:    kernelBF16AVX512,
	kernelStrided: kernelStridedAVX512,
	transpose:     transposeAVX512,
	prefetch:      prefetchX86,

	expShift:    expShiftX86,
	maxOf:       maxX86,
	softmaxCols: softmaxColsX86,
	add:         addX86,
	sumSquares:  sumSquaresX86,
	scaleMul:    scaleMulX86,
	siluGate:    siluGateX86,
}

// avx2Kernels is the AVX2+FMA implementation: 6×16 tiles and the scalar transpose.
var avx2Kernels = &kernels{
	name:      "avx2",
	nr:        16,
	heights:   []int{6},
	kernel:    kernelAVX2,
	transpose: transposeGo,
	prefetch:  prefetchX86,

	expShift:    expShiftGo,
	maxOf:       maxGo,
	softmaxCols: softmaxColsGo,
	add:         addGo,
	sumSquares:  sumSquaresGo,
	scaleMul:    scaleMulGo,
	siluGate:    siluGateGo,
}

// supportedKernels lists the implementations this CPU can run, fastest first.
func supportedKernels() []*kernels {
	var ks []*kernels
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512Kernels)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernels)
	}
	return append(ks, goKernels)
}

func kernelAVX512(h, kc int, a, b, c []float32, ldc int, acc bool) {
	_, _, _ = a[h*kc-1], b[32*kc-1], c[(h-1)*ldc+31]
	switch h {
	case 14:
		sgemmKernel14x32(kc, &a[0], &b[0], &c[0], ldc, acc)
	case 8:
		sgemmKernel8x32(kc, &a[0], &b[0], &c[0], ldc, acc)
	case 4:
		sgemmKernel4x32(kc, &a[0], &b[0], &c[0], ldc, acc)
	default:
		panic("cpu: no AVX-512 kernel for this tile height")
	}
}

func kernelStridedAVX512(h, kc int, a, b []float32, ldb int, c []float32, ldc int, acc bool) {
	_, _, _ = a[h*kc-1], b[(kc-1)*ldb+31], c[(h-1)*ldc+31]
	switch h {
	case 14:
		sgemmKernelS14x32(kc, &a[0], &b[0], ldb, &c[0], ldc, acc)
	case 8:
		sgemmKernelS8x32(kc, &a[0], &b[0], ldb, &c[0], ldc, acc)
	case 4:
		sgemmKernelS4x32(kc, &a[0], &b[0], ldb, &c[0], ldc, acc)
	default:
		panic("cpu: no AVX-512 kernel for this tile height")
	}
}

func kernelBF16AVX512(h, kc int, a []float32, b []uint16, c []float32, ldc int, acc bool) {
	_, _, _ = a[h*kc-1], b[32*kc-1], c[(h-1)*ldc+31]
	switch h {
	case 14:
		sbgemmKernel14x32(kc, &a[0], &b[0], &c[0], ldc, acc)
	case 8:
		sbgemmKernel8x32(kc, &a[0], &b[0], &c[0], ldc, acc)
	case 4:
		sbgemmKernel4x32(kc, &a[0], &b[0], &c[0], ldc, acc)
	default:
		panic("cpu: no AVX-512 kernel for this tile height")
	}
}

func kernelAVX2(h, kc int, a, b, c []float32, ldc int, acc bool) {
	if h != 6 {
		panic("cpu: no AVX2 kernel for this tile height")
	}
	_, _, _ = a[6*kc-1], b[16*kc-1], c[5*ldc+15]
	sgemmKernel6x16(kc, &a[0], &b[0], &c[0], ldc, acc)
}

// transposeAVX512 is transposeGo with whole 16×16 blocks done by transpose16.
func transposeAVX512(dst []float32, ldd int, src []float32, lds, rows, lanes, cols int) {
	blocks := cols / 16
	for i0 := 0; i0 < lanes && blocks > 0; i0 += 16 {
		r, l := min(max(rows-i0, 0), 16), min(lanes-i0, 16)
		_ = dst[i0+(16*blocks-1)*ldd+l-1]
		if r == 0 {
			transpose16(&dst[i0], ldd, nil, lds, 0, l, blocks)
			continue
		}
		_ = src[(i0+r-1)*lds+16*blocks-1]
		transpose16(&dst[i0], ldd, &src[i0*lds], lds, r, l, blocks)
	}
	if done := 16 * blocks; done < cols {
		var rest []float32
		if rows > 0 {
			rest = src[done:]
		}
		transposeGo(dst[done*ldd:], ldd, rest, lds, rows, lanes, cols-done)
	}
}
