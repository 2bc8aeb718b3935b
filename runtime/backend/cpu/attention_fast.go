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

// Attention computes the same attention as Reference.Attention with two GEMMs per query head
// and block of qb queries, in transposed form so that neither large operand needs a transpose
// per block:
//
//	Sᵀ (Lk × qb) = K_g · Q_blockᵀ                 K_g packed once per call as the A operand
//	Pᵀ = e^((Sᵀ − column max)/√Dh), column sums   vectorised along the qb queries
//	Oᵀ (Dh × qb) = V_gᵀ · Pᵀ                      V_gᵀ packed once per call; Pᵀ, qb = nr wide,
//	                                              is already a packed B panel
//	dst[i][h] = Oᵀ[:, i] / sum_i
//
// Hidden keys are dropped before anything else (their weight is exactly 0 in the reference),
// so masks cost nothing. Units (head, query block) run in parallel; each goroutine holds one
// Lk × qb score block, so memory stays O(Lk·qb) per thread plus the packed K and V.
func (be *Backend) Attention(dst, q, k, v *tensor.Tensor, keyMask []bool) error {
	a, err := checkAttention(dst, q, k, v, keyMask)
	if err != nil {
		return err
	}
	if a.lq == 0 || a.heads == 0 {
		return nil
	}
	ks := be.gemmKernels()
	threads := be.Threads()
	ld := a.kvHeads * a.dh // row stride of k and v
	keys, kd, vd := a.lk, a.k, a.v
	if keyMask != nil && slices.Contains(keyMask, false) {
		kd, vd, keys = visibleRows(a.k, a.v, ld, keyMask)
	}

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
	return nil
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
