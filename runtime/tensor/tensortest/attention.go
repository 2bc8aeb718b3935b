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

package tensortest

import (
	"fmt"
	"math"
	"testing"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// refAttention returns bidirectional attention of q (Lq, H, Dh) over k, v (Lk, Hkv, Dh) with
// query head h reading key/value head h/(H/Hkv) and keys with keyMask[j] == false skipped,
// in float64.
func refAttention(q, k, v []float32, lq, lk, heads, kvHeads, dh int, keyMask []bool) []float64 {
	want := make([]float64, lq*heads*dh)
	scale := 1 / math.Sqrt(float64(dh))
	p := make([]float64, lk)
	for i := range lq {
		for h := range heads {
			g := h / (heads / kvHeads)
			m := math.Inf(-1)
			for j := range lk {
				p[j] = math.Inf(-1)
				if keyMask != nil && !keyMask[j] {
					continue
				}
				var s float64
				for e := range dh {
					s += float64(q[(i*heads+h)*dh+e]) * float64(k[(j*kvHeads+g)*dh+e])
				}
				p[j] = s * scale
				m = max(m, p[j])
			}
			var sum float64
			for j := range p {
				p[j] = math.Exp(p[j] - m)
				sum += p[j]
			}
			for j := range lk {
				for e := range dh {
					want[(i*heads+h)*dh+e] += p[j] / sum * float64(v[(j*kvHeads+g)*dh+e])
				}
			}
		}
	}
	return want
}

func testAttention(t *testing.T, b tensor.Backend) {
	r := newRand(10)
	tests := []struct {
		name                   string
		lq, lk, heads, kvh, dh int
		keyMask                []bool
	}{
		{"single key", 1, 1, 1, 1, 4, nil},
		{"MHA", 5, 5, 2, 2, 8, nil},
		{"GQA 6/2", 4, 4, 6, 2, 8, nil},
		{"MQA 4/1", 3, 3, 4, 1, 16, nil},
		{"fewer queries than keys", 3, 7, 4, 2, 8, nil},
		{"all keys visible", 4, 4, 2, 1, 8, []bool{true, true, true, true}},
		{"padded keys", 6, 6, 4, 2, 8, []bool{false, true, true, false, true, false}},
		{"one visible key", 3, 5, 2, 2, 4, []bool{false, false, false, true, false}},
		{"Dream-like", 8, 8, 7, 1, 64, []bool{false, false, true, true, true, true, true, true}},
	}
	for _, tc := range tests {
		qv := uniform(r, tc.lq*tc.heads*tc.dh, -2, 2)
		kv := uniform(r, tc.lk*tc.kvh*tc.dh, -2, 2)
		vv := uniform(r, tc.lk*tc.kvh*tc.dh, -2, 2)
		for j, visible := range tc.keyMask {
			if visible {
				continue
			}
			// A hidden key that would dominate every score if it leaked through the mask.
			for e := range tc.kvh * tc.dh {
				kv[j*tc.kvh*tc.dh+e] *= 1000
				vv[j*tc.kvh*tc.dh+e] = 1e6
			}
		}
		want := refAttention(qv, kv, vv, tc.lq, tc.lk, tc.heads, tc.kvh, tc.dh, tc.keyMask)
		dst := alloc(t, b, tc.lq, tc.heads, tc.dh)
		call := fmt.Sprintf("Attention(dst, q[%d %d %d], k[%d %d %d], v, %v) (%s)",
			tc.lq, tc.heads, tc.dh, tc.lk, tc.kvh, tc.dh, tc.keyMask, tc.name)
		err := b.Attention(dst, upload(t, b, qv, tc.lq, tc.heads, tc.dh),
			upload(t, b, kv, tc.lk, tc.kvh, tc.dh), upload(t, b, vv, tc.lk, tc.kvh, tc.dh), tc.keyMask)
		if err != nil {
			t.Errorf("%s = %v", call, err)
			continue
		}
		checkNMSE(t, call, download(t, b, dst), want, tc.dh, nmseReduce)
	}
	testAttentionErrors(t, b)
}

func testAttentionErrors(t *testing.T, b tensor.Backend) {
	tests := []struct {
		name         string
		dst, q, k, v []int
		keyMask      []bool
		wantErr      error
	}{
		{"Hkv does not divide H", []int{2, 3, 4}, []int{2, 3, 4}, []int{2, 2, 4}, []int{2, 2, 4}, nil, tensor.ErrShape},
		{"Dh differs", []int{2, 2, 4}, []int{2, 2, 4}, []int{2, 2, 8}, []int{2, 2, 8}, nil, tensor.ErrShape},
		{"k and v differ", []int{2, 2, 4}, []int{2, 2, 4}, []int{3, 2, 4}, []int{2, 2, 4}, nil, tensor.ErrShape},
		{"dst differs from q", []int{2, 4, 2}, []int{2, 2, 4}, []int{2, 2, 4}, []int{2, 2, 4}, nil, tensor.ErrShape},
		{"rank 2 q", []int{2, 8}, []int{2, 8}, []int{2, 2, 4}, []int{2, 2, 4}, nil, tensor.ErrShape},
		{"mask length", []int{2, 2, 4}, []int{2, 2, 4}, []int{3, 2, 4}, []int{3, 2, 4}, []bool{true, true}, tensor.ErrShape},
		{"every key hidden", []int{2, 2, 4}, []int{2, 2, 4}, []int{2, 1, 4}, []int{2, 1, 4}, []bool{false, false}, tensor.ErrArgument},
		{"no keys", []int{2, 2, 4}, []int{2, 2, 4}, []int{0, 1, 4}, []int{0, 1, 4}, nil, tensor.ErrArgument},
	}
	for _, tc := range tests {
		err := b.Attention(alloc(t, b, tc.dst...), alloc(t, b, tc.q...), alloc(t, b, tc.k...), alloc(t, b, tc.v...), tc.keyMask)
		wantErr(t, fmt.Sprintf("Attention(%v, %v, %v, %v, %v) (%s)", tc.dst, tc.q, tc.k, tc.v, tc.keyMask, tc.name), err, tc.wantErr)
	}
	q := alloc(t, b, 2, 2, 4)
	wantErr(t, "Attention(q, q, k, v) with dst aliasing q", b.Attention(q, q, alloc(t, b, 2, 2, 4), alloc(t, b, 2, 2, 4), nil), tensor.ErrArgument)
}
