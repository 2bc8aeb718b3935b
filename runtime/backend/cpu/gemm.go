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
	"math/bits"
	"sync"
	"unsafe"
)

// The fast SGEMM follows the usual blocked design. A is packed into row tiles of height h,
// stored k-major, so the microkernel reads h consecutive floats per k step; B is packed into
// column panels of width nr, also k-major; the microkernel keeps an h×nr tile of C in
// registers for a whole K block.
//
// Loop nest, per block of rows of A (at most aBlockElems floats packed):
//
//	pack the row tiles of A, in parallel; the packed copy is shared by every thread
//	for each unit (a group of row tiles × a chunk of columns), in parallel:
//		for each K block of kcBlock:
//			for each nr-wide column panel of the chunk:
//				pack the panel of B (kcBlock × nr, a hot L1 buffer)
//				for each row tile of the group:
//					prefetch a share of the next panel of B
//					microkernel(tile, panel) into C, adding to it after the first K block
//
// A kcBlock×32 panel of B is 32 KiB and stays in L1 while the row tiles of A (kcBlock×M,
// ≤ 1 MiB at M = 1024) stream past it from L2. Packing B per panel, right before use, keeps the
// packed B small and hot; B is read from memory once per row block of A, which is the whole
// of A for every M up to aBlockElems/K. Units are handed out dynamically, so a core slowed by
// another process takes fewer.
const (
	// kcBlock is the depth of one K block.
	kcBlock = 256
	// aBlockElems bounds the packed copy of A (rows × K floats, 4 MiB), so memory stays bounded
	// for long prompts: taller A is processed in several row blocks.
	aBlockElems = 1 << 20
	// chunkCols is the number of C columns of one parallel unit (several B panels).
	chunkCols = 128
	// parallelFlops is the smallest product worth waking helper goroutines for.
	parallelFlops = 1 << 22
	// maxNR and maxTileElems size the per-goroutine scratch for every kernel set.
	maxNR        = 32
	maxTileElems = 16 * maxNR
)

// kernels is one instruction-set implementation of the microkernel and the transposes that
// packing needs.
type kernels struct {
	name string
	// nr is the width of a packed B panel and of a C tile.
	nr int
	// heights are the row-tile heights the microkernel supports, tallest first; the tallest is
	// the fastest, shorter ones cover the bottom rows of A with less padding.
	heights []int
	// kernel computes the h×nr tile c (row stride ldc) = a·b over kc steps, or adds it to c
	// when acc is set. a is a packed row tile (kc×h), b a packed panel (kc×nr).
	kernel func(h, kc int, a, b, c []float32, ldc int, acc bool)
	// kernelBF16, if set, is kernel over a packed B panel of bfloat16 values (kc×nr), which it
	// widens exactly; prepacked weights that are exact in bfloat16 are stored that way.
	kernelBF16 func(h, kc int, a []float32, b []uint16, c []float32, ldc int, acc bool)
	// kernelStrided, if set, is kernel reading B in place, row k at b[k·ldb:], for full
	// panels of a B stored (K, N).
	kernelStrided func(h, kc int, a, b []float32, ldb int, c []float32, ldc int, acc bool)
	// transpose writes dst[k·ldd+i] = src[i·lds+k] for k < cols and i < lanes, reading only
	// rows i < rows of src and writing zeros for rows ≤ i < lanes.
	transpose func(dst []float32, ldd int, src []float32, lds, rows, lanes, cols int)
	// prefetch, if set, hints rows rows of cols floats (row stride lds) into the cache.
	prefetch func(src []float32, lds, rows, cols int)

	// Softmax pieces, vectorised where the instruction set allows (see exp.go):
	// expShift sets dst[i] = e^((src[i]−shift)·scale) and returns the sum; maxOf returns the
	// largest element; softmaxCols is softmaxColsGo.
	expShift func(dst, src []float32, shift, scale float32) float32
	// Elementwise steps (elementwise.go): add is addGo, sumSquares sumSquaresGo, scaleMul
	// scaleMulGo, siluGate siluGateGo, each with identical results on every implementation.
	add         func(d, a, b []float32)
	sumSquares  func(x []float32) float32
	scaleMul    func(out, x, w []float32, scale float32)
	siluGate    func(d, g, u, e []float32)
	maxOf       func(x []float32) float32
	softmaxCols func(s []float32, rows, width int, scale float32, sums []float32)
}

// matrix is a row-major view of a float32 matrix with a leading dimension (row stride) ld:
// element (i, j) is data[i·ld+j]. Its last row need not be padded to ld.
type matrix struct {
	data []float32
	ld   int
}

// gemm describes C (M, N) = op(A) · op(B), overwriting C:
//
//	A is stored (M, K), or (K, M) with transA
//	B is stored (K, N), or (N, K) with transB: C = A·Bᵀ, MatMul's weight layout
//
// packedA, if set, holds A already packed by packA (then a is not read).
type gemm struct {
	m, n, k        int
	a, b, c        matrix
	transA, transB bool
	packedA        []float32
	// packedB, if set, holds B (transB, N×K) already packed by packWeights for ks.nr (then b is
	// not read): the weights of a model, packed once by Backend.Prepack.
	packedB []float32
	// packedB16, if set, is packedB in bfloat16 (packWeightsBF16), for ks.kernelBF16.
	packedB16 []uint16
	// maxPacked, if positive, replaces aBlockElems (tests use it to force several row blocks).
	maxPacked int
}

// tile is one row tile of A: rows [row, row+h), of which the first rows are real.
type tile struct {
	row, h, rows int
}

// planTiles covers m rows with tiles of the given heights, tallest first, choosing the mix that
// pads the fewest rows (128 rows on heights 14, 8, 4 become 8×14 + 2×8, not 9×14 + 4).
func planTiles(m int, heights []int) []tile {
	big := heights[0]
	bestWaste, bestBig := -1, 0
	for nb := m/big + 1; nb >= 0 && nb >= m/big-big; nb-- {
		waste := nb*big - m
		if waste < 0 {
			waste = fillWaste(-waste, heights[1:])
		}
		if bestWaste < 0 || waste < bestWaste {
			bestWaste, bestBig = waste, nb
		}
	}
	tiles := make([]tile, 0, bestBig+4)
	row := 0
	add := func(h int) {
		tiles = append(tiles, tile{row: row, h: h, rows: min(h, m-row)})
		row += h
	}
	for ; bestBig > 0 && row < m; bestBig-- {
		add(big)
	}
	for i, h := range heights[1:] {
		for m-row >= h || (row < m && i == len(heights)-2) {
			add(h)
		}
	}
	return tiles
}

// fillWaste is the number of padding rows when rest rows are covered greedily by heights, the
// last (shortest) one padded; it is huge when heights is empty and rest is not zero.
func fillWaste(rest int, heights []int) int {
	if len(heights) == 0 {
		return rest << 20
	}
	for _, h := range heights {
		rest -= rest / h * h
	}
	if rest == 0 {
		return 0
	}
	return heights[len(heights)-1] - rest
}

// packedLen is the length of A packed for tiles ts over depth k.
func packedLen(ts []tile, k int) int {
	last := ts[len(ts)-1]
	return (last.row + last.h - ts[0].row) * k
}

// packA packs the row tiles ts of A (rows relative to a.data) into dst. The tiles of K block
// [k0, k0+kc) start at height·k0, height being the padded rows of ts, and tile t lies at
// (t.row−ts[0].row)·kc within it: k-major, dst[k·h+i] for row i of the tile.
func (ks *kernels) packA(dst []float32, a matrix, transA bool, ts []tile, k int, ti int) {
	t := ts[ti]
	height := packedLen(ts, 1)
	for k0 := 0; k0 < k; k0 += kcBlock {
		kc := min(kcBlock, k-k0)
		d := dst[height*k0+(t.row-ts[0].row)*kc:][:t.h*kc]
		if !transA {
			ks.transpose(d, t.h, a.data[t.row*a.ld+k0:], a.ld, t.rows, t.h, kc)
			continue
		}
		for kk := range kc { // A stored (K, M): each k step is a run of t.rows floats
			row := d[kk*t.h : (kk+1)*t.h]
			copy(row, a.data[(k0+kk)*a.ld+t.row:][:t.rows])
			clear(row[t.rows:])
		}
	}
}

// gemmScratch is one goroutine's buffers: a packed B panel and an edge tile.
type gemmScratch struct {
	panel []float32
	edge  []float32
}

var scratchPool = sync.Pool{New: func() any {
	return &gemmScratch{panel: make([]float32, kcBlock*maxNR), edge: make([]float32, maxTileElems)}
}}

// floatPools recycles the large float32 buffers (packed A, attention scores) by size class:
// pool c holds buffers of capacity 2^c, so a request never gets a buffer too small and never
// holds one more than twice too big.
var floatPools [64]sync.Pool

// getFloats returns a buffer of n floats with arbitrary contents; putFloats recycles it.
func getFloats(n int) *[]float32 {
	c := bits.Len(uint(max(n, 1) - 1)) // 2^(c-1) < n ≤ 2^c
	if p, ok := floatPools[c].Get().(*[]float32); ok {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n, 1<<c)
	return &s
}

func putFloats(p *[]float32) {
	floatPools[bits.Len(uint(cap(*p)))-1].Put(p)
}

// run computes g with kernels ks on up to threads goroutines. The caller has checked that the
// matrices are large enough for their shapes and leading dimensions.
func (g *gemm) run(ks *kernels, threads int) {
	if g.empty() {
		return
	}
	if 2*g.m*g.n*g.k < parallelFlops {
		threads = 1
	}
	tiles := planTiles(g.m, ks.heights)
	if g.packedA != nil {
		g.rowBlock(ks, threads, tiles, g.packedA)
		return
	}
	// Group the tiles into row blocks whose packed copy fits aBlockElems.
	limit := aBlockElems
	if g.maxPacked > 0 {
		limit = g.maxPacked
	}
	maxRows := max(limit/g.k, ks.heights[0])
	for first := 0; first < len(tiles); {
		last := first + 1
		for last < len(tiles) && tiles[last].row+tiles[last].h-tiles[first].row <= maxRows {
			last++
		}
		ts := tiles[first:last]
		packed := getFloats(packedLen(ts, g.k))
		pack := func(_ struct{}, i int) { ks.packA(*packed, g.a, g.transA, ts, g.k, i) }
		if threads > 1 && len(ts) > 1 {
			parallelFor(threads, len(ts), nil, nil, pack)
		} else {
			for i := range ts {
				pack(struct{}{}, i)
			}
		}
		g.rowBlock(ks, threads, ts, *packed)
		putFloats(packed)
		first = last
	}
}

// runTiles computes g on the calling goroutine, A being packed already (g.packedA) for the
// tiles ts, which must be planTiles(g.m, ks.heights).
func (g *gemm) runTiles(ks *kernels, ts []tile) {
	if !g.empty() {
		g.rowBlock(ks, 1, ts, g.packedA)
	}
}

// empty reports whether g has nothing to multiply, after zeroing C if K is 0.
func (g *gemm) empty() bool {
	if g.m == 0 || g.n == 0 {
		return true
	}
	if g.k == 0 {
		for i := range g.m {
			clear(g.c.data[i*g.c.ld : i*g.c.ld+g.n])
		}
		return true
	}
	return false
}

// rowBlock multiplies the packed row tiles ts by all of B.
func (g *gemm) rowBlock(ks *kernels, threads int, ts []tile, pa []float32) {
	// Units: column chunks × row groups; split the rows only when there are too few chunks
	// to keep every thread busy.
	chunks := (g.n + chunkCols - 1) / chunkCols
	groups := 1
	if threads > 1 && chunks < 2*threads {
		groups = min(len(ts), (2*threads+chunks-1)/chunks)
	}
	perGroup := (len(ts) + groups - 1) / groups
	groups = (len(ts) + perGroup - 1) / perGroup
	unit := func(s *gemmScratch, u int) {
		gi, ci := u/chunks, u%chunks
		g.compute(ks, s, pa, ts, gi*perGroup, min(len(ts), (gi+1)*perGroup), ci*chunkCols, min(g.n, (ci+1)*chunkCols))
	}
	getScratch := func() *gemmScratch { return scratchPool.Get().(*gemmScratch) }
	putScratch := func(s *gemmScratch) { scratchPool.Put(s) }
	if threads > 1 && groups*chunks > 1 {
		parallelFor(threads, groups*chunks, getScratch, putScratch, unit)
		return
	}
	s := getScratch()
	for u := range groups * chunks {
		unit(s, u)
	}
	putScratch(s)
}

// panelB returns the packed panel of B for columns [j0, j0+cols) and K block [k0, k0+kc).
func (g *gemm) panelB(ks *kernels, s *gemmScratch, j0, cols, k0, kc int) []float32 {
	nr := ks.nr
	if g.packedB != nil {
		p := (j0/nr)*g.k*nr + k0*nr
		return g.packedB[p : p+kc*nr]
	}
	if !g.transB && g.b.ld == nr && j0 == 0 && len(g.b.data) >= (k0+kc)*nr {
		// B is a single panel already laid out k-major with stride nr: use it in place.
		// Columns past n are read but only reach C columns that are never stored.
		return g.b.data[k0*nr : (k0+kc)*nr]
	}
	panel := s.panel[:kc*nr]
	if g.transB {
		ks.transpose(panel, nr, g.b.data[j0*g.b.ld+k0:], g.b.ld, cols, nr, kc)
		return panel
	}
	// B stored (K, N): each k step is a run of cols floats. Full panels of the common widths
	// copy as fixed-size arrays, which compile to a few vector moves instead of a memmove
	// call per row (the attention of a few queries packs thousands of value rows this way).
	src := g.b.data[k0*g.b.ld+j0:]
	switch {
	case cols == 32 && nr == 32:
		for k := range kc {
			row := src[k*g.b.ld:]
			*(*[16]float32)(panel[k*32:]) = *(*[16]float32)(row)
			*(*[16]float32)(panel[k*32+16:]) = *(*[16]float32)(row[16:])
		}
	case cols == 16 && nr == 16:
		for k := range kc {
			*(*[16]float32)(panel[k*16:]) = *(*[16]float32)(src[k*g.b.ld:])
		}
	default:
		for k := range kc {
			row := panel[k*nr : (k+1)*nr]
			copy(row, src[k*g.b.ld:][:cols])
			clear(row[cols:])
		}
	}
	return panel
}

// compute multiplies the packed row tiles ts[t0:t1] by columns [n0, n1) of B into C.
func (g *gemm) compute(ks *kernels, s *gemmScratch, pa []float32, ts []tile, t0, t1, n0, n1 int) {
	nr := ks.nr
	height := packedLen(ts, 1)
	for k0 := 0; k0 < g.k; k0 += kcBlock {
		kc := min(kcBlock, g.k-k0)
		acc := k0 > 0
		for j0 := n0; j0 < n1; j0 += nr {
			cols := min(nr, n1-j0)
			var bp bPanel
			switch {
			case g.packedB16 != nil:
				p := (j0/nr)*g.k*nr + k0*nr
				bp.b16 = g.packedB16[p : p+kc*nr]
			case g.packedB == nil && !g.transB && cols == nr && ks.kernelStrided != nil:
				bp.inPlace, bp.ld = g.b.data[k0*g.b.ld+j0:], g.b.ld
			default:
				bp.f32 = g.panelB(ks, s, j0, cols, k0, kc)
			}
			// Fetch the next panel of B from memory while this one is multiplied, a share of
			// its rows before each tile so the requests never pile up.
			pf, pfRows, pfCols, pfLd := g.nextPanel(ks, j0, k0, n0, n1)
			nt := t1 - t0
			for ti, t := range ts[t0:t1] {
				if pfRows > 0 {
					r0, r1 := ti*pfRows/nt, (ti+1)*pfRows/nt
					if r1 > r0 {
						ks.prefetch(pf[r0*pfLd:], pfLd, r1-r0, pfCols)
					}
				}
				a := pa[height*k0+(t.row-ts[0].row)*kc:][:t.h*kc]
				c := g.c.data[t.row*g.c.ld+j0:]
				if t.rows == t.h && cols == nr {
					bp.mul(ks, t.h, kc, a, c, g.c.ld, acc)
					continue
				}
				// Edge tile: compute the padded tile aside, then keep its real part.
				e := s.edge[:t.h*nr]
				bp.mul(ks, t.h, kc, a, e, nr, false)
				keepEdge(c, g.c.ld, e, nr, t.rows, cols, acc)
			}
		}
	}
}

// bPanel is one panel of B as compute reads it: packed in float32 or bfloat16, or in place in
// a B stored (K, N) at row stride ld.
type bPanel struct {
	f32, inPlace []float32
	b16          []uint16
	ld           int
}

// mul computes (acc: adds) the h×nr tile c = a·panel with the kernel for the panel's form.
func (bp *bPanel) mul(ks *kernels, h, kc int, a, c []float32, ldc int, acc bool) {
	switch {
	case bp.b16 != nil:
		ks.kernelBF16(h, kc, a, bp.b16, c, ldc, acc)
	case bp.inPlace != nil:
		ks.kernelStrided(h, kc, a, bp.inPlace, bp.ld, c, ldc, acc)
	default:
		ks.kernel(h, kc, a, bp.f32, c, ldc, acc)
	}
}

// nextPanel returns the B data that compute multiplies after the panel at column j0 and K block
// k0 of the unit's columns [n0, n1): the next panel of the K block, or after the last one the
// first panel of the next K block; as rows × cols floats at stride ld for ks.prefetch (no rows
// when there is nothing to fetch).
func (g *gemm) nextPanel(ks *kernels, j0, k0, n0, n1 int) (pf []float32, rows, cols, ld int) {
	nr := ks.nr
	next, nk0 := j0+nr, k0
	if next >= n1 {
		next, nk0 = n0, k0+kcBlock
	}
	if ks.prefetch == nil || nk0 >= g.k {
		return nil, 0, 0, 0
	}
	nkc := min(kcBlock, g.k-nk0)
	switch {
	case g.packedB16 != nil:
		// Two bfloat16 per float: the panel's rows are nr/2 floats wide.
		p := g.packedB16[(next/nr)*g.k*nr+nk0*nr:]
		return unsafe.Slice((*float32)(unsafe.Pointer(&p[0])), len(p)/2), nkc, nr / 2, nr / 2
	case g.packedB != nil:
		return g.packedB[(next/nr)*g.k*nr+nk0*nr:], nkc, nr, nr
	case g.transB:
		return g.b.data[next*g.b.ld+nk0:], min(nr, n1-next), nkc, g.b.ld
	default:
		return g.b.data[nk0*g.b.ld+next:], nkc, min(nr, n1-next), g.b.ld
	}
}

// keepEdge stores (acc: adds) the real rows × cols part of the padded tile e (row stride lde)
// into c.
func keepEdge(c []float32, ldc int, e []float32, lde, rows, cols int, acc bool) {
	for i := range rows {
		ci, ei := c[i*ldc:i*ldc+cols], e[i*lde:i*lde+cols]
		if acc {
			for j, v := range ei {
				ci[j] += v
			}
		} else {
			copy(ci, ei)
		}
	}
}

// packWeightsBF16 is packWeights storing each value as its upper 16 bits (bfloat16), for
// kernels with kernelBF16. It reports false, and packs nothing, when some value of w is not
// exactly a bfloat16 (its lower 16 bits are not zero); checkpoints in bfloat16 always are.
func packWeightsBF16(ks *kernels, w []float32, n, k int) ([]uint16, bool) {
	for _, v := range w {
		if math.Float32bits(v)&0xffff != 0 {
			return nil, false
		}
	}
	packed := packWeights(ks, w, n, k)
	out := make([]uint16, len(packed))
	for i, v := range packed {
		out[i] = uint16(math.Float32bits(v) >> 16)
	}
	return out, true
}

// packWeights packs w, an N×K matrix used as B of A·Bᵀ, once for the kernels ks: panel p (B's
// rows [p·nr, p·nr+nr), zeros past N) is K rows of nr floats, k-major, at p·K·nr, the layout
// panelB would build for every K block of every call.
func packWeights(ks *kernels, w []float32, n, k int) []float32 {
	nr := ks.nr
	panels := (n + nr - 1) / nr
	out := make([]float32, panels*k*nr)
	for p := range panels {
		rows := min(nr, n-p*nr)
		ks.transpose(out[p*k*nr:], nr, w[p*nr*k:], k, rows, nr, k)
	}
	return out
}
