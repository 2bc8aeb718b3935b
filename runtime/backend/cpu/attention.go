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
	"fmt"
	"math"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// attentionArgs is Attention's validated operands.
type attentionArgs struct {
	d, q, k, v                 []float32
	lq, heads, dh, lk, kvHeads int
}

// checkAttention validates Attention's operands and returns their storage and dimensions.
func checkAttention(dst, q, k, v *tensor.Tensor, keyMask []bool) (attentionArgs, error) {
	d, qs, ks, err := data3(operand{dstName, dst}, operand{"q", q}, operand{"k", k})
	if err != nil {
		return attentionArgs{}, fmt.Errorf("cpu: attention: %w", err)
	}
	vs, err := data(v, "v")
	if err != nil {
		return attentionArgs{}, fmt.Errorf("cpu: attention: %w", err)
	}
	if err := tensor.CheckAttention(dst, q, k, v, keyMask); err != nil {
		return attentionArgs{}, fmt.Errorf("cpu: attention: %w", err)
	}
	if err := noAlias(d, qs, ks, vs); err != nil {
		return attentionArgs{}, fmt.Errorf("cpu: attention: %w", err)
	}
	return attentionArgs{
		d: d, q: qs, k: ks, v: vs,
		lq: q.Dim(0), heads: q.Dim(1), dh: q.Dim(2), lk: k.Dim(0), kvHeads: k.Dim(1),
	}, nil
}

// Attention computes bidirectional scaled dot-product attention with grouped key/value heads:
// q and dst (Lq, H, Dh), k and v (Lk, Hkv, Dh), Hkv dividing H. keyMask, if non-nil, has Lk
// entries; keyMask[j] == false hides key j. For every query i and head h, with g = h/(H/Hkv):
//
//	for j := range Lk {
//		if !visible(j) { s[j] = -inf; continue }
//		s[j] = 0
//		for e := range Dh { s[j] += q[i][h][e] * k[j][g][e] }
//		s[j] *= 1 / sqrt(Dh)
//	}
//	p := softmax(s)
//	for e := range Dh {
//		var o float32
//		for j := range Lk { o += p[j] * v[j][g][e] }
//		dst[i][h][e] = o
//	}
func (*Reference) Attention(dst, q, k, v *tensor.Tensor, keyMask []bool) error {
	a, err := checkAttention(dst, q, k, v, keyMask)
	if err != nil {
		return err
	}
	lq, heads, dh, lk, kvHeads := a.lq, a.heads, a.dh, a.lk, a.kvHeads
	group := heads / kvHeads
	scale := float32(1 / math.Sqrt(float64(dh)))
	negInf := float32(math.Inf(-1))
	p := make([]float32, lk)
	for i := range lq {
		for h := range heads {
			g := h / group
			qv := a.q[(i*heads+h)*dh : (i*heads+h+1)*dh]
			for j := range lk {
				if keyMask != nil && !keyMask[j] {
					p[j] = negInf
					continue
				}
				kv := a.k[(j*kvHeads+g)*dh : (j*kvHeads+g+1)*dh]
				var s float32
				for e := range dh {
					s += qv[e] * kv[e]
				}
				p[j] = s * scale
			}
			softmaxRow(p, p) // exp(-inf - m) is 0: hidden keys get no weight
			out := a.d[(i*heads+h)*dh : (i*heads+h+1)*dh]
			for e := range dh {
				var o float32
				for j := range lk {
					o += p[j] * a.v[(j*kvHeads+g)*dh+e]
				}
				out[e] = o
			}
		}
	}
	return nil
}
