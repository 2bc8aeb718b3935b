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
	"slices"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// Attention computes the same attention as Reference.Attention with two GEMMs per query head:
// attendFew for up to fewQueries queries (dLLM-Cache's recomputed rows), attendBlocks for more.
// Hidden keys are dropped before anything else (their weight is exactly 0 in the reference),
// so masks cost nothing.
func (be *Backend) Attention(dst, q, k, v *tensor.Tensor, keyMask []bool) error {
	a, err := checkAttention(dst, q, k, v, keyMask)
	if err != nil {
		return err
	}
	be.attention(a, keyMask, a.lq <= fewQueries)
	return nil
}

// attention runs validated operands with attendFew when few is set, else attendBlocks.
func (be *Backend) attention(a attentionArgs, keyMask []bool, few bool) {
	if a.lq == 0 || a.heads == 0 {
		return
	}
	ks := be.gemmKernels()
	threads := be.Threads()
	keys, kd, vd := a.lk, a.k, a.v
	if keyMask != nil && slices.Contains(keyMask, false) {
		kd, vd, keys = visibleRows(a.k, a.v, a.kvHeads*a.dh, keyMask)
	}
	if few {
		attendFew(ks, threads, a, kd, vd, keys)
	} else {
		attendBlocks(ks, threads, a, kd, vd, keys)
	}
}

// attendBlocks is Attention for many queries, with two GEMMs per query head and block of qb
// queries, in transposed form so that neither large operand needs a transpose
// per block:
//
//	Sᵀ (Lk × qb) = K_g · Q_blockᵀ                 K_g packed once per call as the A operand
//	Pᵀ = e^((Sᵀ − column max)/√Dh), column sums   vectorised along the qb queries
//	Oᵀ (Dh × qb) = V_gᵀ · Pᵀ                      V_gᵀ packed once per call; Pᵀ, qb = nr wide,
//	                                              is already a packed B panel
//	dst[i][h] = Oᵀ[:, i] / sum_i
//
// Units (head, query block) run in parallel; each goroutine holds one
// Lk × qb score block, so memory stays O(Lk·qb) per thread plus the packed K and V.
func attendBlocks(ks *kernels, threads int, a attentionArgs, kd, vd []float32, keys int) {
	ld := a.kvHeads * a.dh

	// Pack K_g (keys × Dh) and V_gᵀ (Dh × keys, stored as v) as A operands, per kv head.
	kTiles, vTiles := planTiles(keys, ks.heights), planTiles(a.dh, ks.heights)
	kLen, vLen := packedLen(kTiles, a.dh), packedLen(vTiles, keys)
	per := kLen + vLen
	packedBuf := getFloats(a.kvHeads * per)
	defer putFloats(packedBuf)
	packed := *packedBuf
	nk, nv := len(kTiles), len(vTiles)
	packThreads := threads
	if keys*ld < 2*rowGrain {
		packThreads = 1
	}
	parallelFor(packThreads, a.kvHeads*(nk+nv), nil, nil, func(_ struct{}, u int) {
		g, t := u/(nk+nv), u%(nk+nv)
		if t < nk {
			ks.packA(packed[g*per:][:kLen], matrix{kd[g*a.dh:], ld}, false, kTiles, a.dh, t)
		} else {
			ks.packA(packed[g*per+kLen:][:vLen], matrix{vd[g*a.dh:], ld}, true, vTiles, keys, t-nk)
		}
	})

	qb := max(ks.nr, 16)
	blocks := (a.lq + qb - 1) / qb
	group := a.heads / a.kvHeads
	scale := float32(1 / math.Sqrt(float64(a.dh)))
	if 4*a.lq*keys*a.dh*a.heads < parallelFlops {
		threads = 1
	}
	scratch := func() *[]float32 { return getFloats(keys*qb + a.dh*qb + 2*qb) }
	release := func(s *[]float32) { putFloats(s) }
	parallelFor(threads, a.heads*blocks, scratch, release, func(buf *[]float32, u int) {
		h, i0 := u/blocks, (u%blocks)*qb
		m, g := min(qb, a.lq-i0), h/group
		st, rest := (*buf)[:keys*qb], (*buf)[keys*qb:]
		ot, rest := rest[:a.dh*qb], rest[a.dh*qb:]
		sums, inv := rest[:qb], rest[qb:2*qb]
		if m < qb {
			clear(st) // the unused columns then hold finite values
		}
		s := gemm{
			m: keys, n: m, k: a.dh,
			b:       matrix{a.q[(i0*a.heads+h)*a.dh:], a.heads * a.dh},
			c:       matrix{st, qb},
			transB:  true,
			packedA: packed[g*per:][:kLen],
		}
		s.runTiles(ks, kTiles)
		ks.softmaxCols(st, keys, qb, scale, sums)
		o := gemm{
			m: a.dh, n: m, k: keys,
			b:       matrix{st, qb},
			c:       matrix{ot, qb},
			packedA: packed[g*per+kLen:][:vLen],
		}
		o.runTiles(ks, vTiles)
		for i := range m {
			inv[i] = 1 / sums[i]
		}
		for e := range a.dh {
			row := ot[e*qb : e*qb+m]
			for i := range row {
				row[i] *= inv[i]
			}
		}
		ks.transpose(a.d[(i0*a.heads+h)*a.dh:], a.heads*a.dh, ot, qb, a.dh, a.dh, m)
	})
}

// fewQueries is the most queries Attention runs with attendFew (BenchmarkAttentionForms puts
// the crossover between 256 and 1024 queries). With few queries, packing all of K and V costs
// more than the products themselves (a dLLM-Cache pass recomputes a handful of rows against
// thousands of cached keys), and the Lk × 32 score blocks of attendBlocks would be mostly
// padding.
const fewQueries = 512

// queryChunk is attendFew's most queries per parallel unit: it bounds the score block a
// goroutine holds to queryChunk × Lk values.
const queryChunk = 128

// attendFew is Attention for a few queries, one query head and chunk of up to queryChunk
// queries per parallel unit, in the untransposed form whose large operands need no packing of
// their own:
//
//	S (Lq × Lk) = Q_h · K_gᵀ      K_g read in place as B; its panels are packed on the fly, hot in L1
//	P = e^((S − row max)/√Dh), row sums
//	O (Lq × Dh) = P · V_g         V_g read in place as B (stored K × N)
//	dst[i][h] = O[i] / sum_i
//
// Every K and V row is read once per query head and chunk, and the microkernel's tiles are as
// high as the chunk instead of padding the queries to a 32-wide panel. (Units of key blocks
// with every head inside, which read K and V in address order, measured slower.)
func attendFew(ks *kernels, threads int, a attentionArgs, kd, vd []float32, keys int) {
	ld := a.kvHeads * a.dh
	qld := a.heads * a.dh
	group := a.heads / a.kvHeads
	scale := float32(1 / math.Sqrt(float64(a.dh)))
	if 4*a.lq*keys*a.dh*a.heads < parallelFlops {
		threads = 1
	}
	qc := min(a.lq, queryChunk)
	chunks := (a.lq + qc - 1) / qc
	scratch := func() *[]float32 { return getFloats(qc*keys + qc*a.dh + qc) }
	parallelFor(threads, a.heads*chunks, scratch, putFloats, func(buf *[]float32, u int) {
		h, i0 := u/chunks, (u%chunks)*qc
		m, g := min(qc, a.lq-i0), h/group
		sc, rest := (*buf)[:m*keys], (*buf)[qc*keys:]
		o, sums := rest[:m*a.dh], rest[qc*a.dh:][:m]
		s := gemm{
			m: m, n: keys, k: a.dh,
			a: matrix{a.q[i0*qld+h*a.dh:], qld}, b: matrix{kd[g*a.dh:], ld}, c: matrix{sc, keys},
			transB: true,
		}
		s.run(ks, 1)
		softmaxRows(ks, sc, m, keys, scale, sums)
		pv := gemm{
			m: m, n: a.dh, k: keys,
			a: matrix{sc, keys}, b: matrix{vd[g*a.dh:], ld}, c: matrix{o, a.dh},
		}
		pv.run(ks, 1)
		for i, sum := range sums {
			inv := 1 / sum
			d := a.d[(i0+i)*qld+h*a.dh:][:a.dh]
			for e, x := range o[i*a.dh : (i+1)*a.dh] {
				d[e] = x * inv
			}
		}
	})
}

// softmaxRows turns every row of the rows×width matrix s into its softmax numerators
// e^((s[i][j] − max_j s[i][j])·scale), in place, and stores the row sums in sums[:rows].
func softmaxRows(ks *kernels, s []float32, rows, width int, scale float32, sums []float32) {
	for i := range rows {
		row := s[i*width : (i+1)*width]
		sums[i] = ks.expShift(row, row, ks.maxOf(row), scale)
	}
}

// visibleRows returns copies of the rows (stride ld) of k and v whose keyMask entry is true,
// and their number.
func visibleRows(k, v []float32, ld int, keyMask []bool) (kv, vv []float32, n int) {
	for _, ok := range keyMask {
		if ok {
			n++
		}
	}
	kv, vv = make([]float32, 0, n*ld), make([]float32, 0, n*ld)
	for j, ok := range keyMask {
		if ok {
			kv = append(kv, k[j*ld:(j+1)*ld]...)
			vv = append(vv, v[j*ld:(j+1)*ld]...)
		}
	}
	return kv, vv, n
}
