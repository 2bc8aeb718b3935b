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
	"sync"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// checkRoPE validates RoPE's operands and returns x's storage.
func checkRoPE(x *tensor.Tensor, positions []int, theta float64) ([]float32, error) {
	xs, err := data(x, "x")
	if err != nil {
		return nil, fmt.Errorf("cpu: rope: %w", err)
	}
	if x.Rank() != 3 || x.Dim(2)%2 != 0 || len(positions) != x.Dim(0) {
		return nil, fmt.Errorf("cpu: rope: x %v (want (L, H, even Dh)), %d positions: %w", x, len(positions), tensor.ErrShape)
	}
	if !(theta > 0) || math.IsInf(theta, 1) {
		return nil, fmt.Errorf("cpu: rope: theta %v: %w", theta, tensor.ErrArgument)
	}
	for l, p := range positions {
		if p < 0 {
			return nil, fmt.Errorf("cpu: rope: position %d is %d: %w", l, p, tensor.ErrArgument)
		}
	}
	return xs, nil
}

// RoPE rotates x (L, H, Dh) in place with rotate-half (GPT-NeoX style) rotary embeddings at the
// given positions (len L). The tables are fp32, as in the LLaDA and HF-Llama code: the inverse
// frequencies are rounded to float32 and the angle is their float32 product with the position.
//
//	half := Dh / 2
//	for i := range half { invFreq[i] = float32(1 / pow(theta, 2*i/Dh)) }
//	for l, h, i := range L, H, half {
//		angle := float32(positions[l]) * invFreq[i]
//		c, s := float32(cos(angle)), float32(sin(angle))
//		x1, x2 := x[l][h][i], x[l][h][i+half]
//		x[l][h][i] = x1*c - x2*s
//		x[l][h][i+half] = x2*c + x1*s
//	}
func (*Reference) RoPE(x *tensor.Tensor, positions []int, theta float64) error {
	xs, err := checkRoPE(x, positions, theta)
	if err != nil {
		return err
	}
	heads, dh := x.Dim(1), x.Dim(2)
	half := dh / 2
	invFreq := ropeInvFreq(theta, dh)
	cos, sin := make([]float32, half), make([]float32, half)
	for l, p := range positions {
		for i, f := range invFreq {
			angle := float64(float32(p) * f)
			cos[i], sin[i] = float32(math.Cos(angle)), float32(math.Sin(angle))
		}
		for h := range heads {
			v := xs[(l*heads+h)*dh : (l*heads+h+1)*dh]
			for i := range half {
				x1, x2 := v[i], v[i+half]
				v[i] = x1*cos[i] - x2*sin[i]
				v[i+half] = x2*cos[i] + x1*sin[i]
			}
		}
	}
	return nil
}

// RoPE rotates x as Reference.RoPE, with the same arithmetic, positions split over threads. The
// cosines and sines come from a table per (theta, Dh) that grows to the largest position seen,
// so each is computed once per process instead of once per call: a cached pass rotates the
// same few hundred positions in every layer of every pass.
func (be *Backend) RoPE(x *tensor.Tensor, positions []int, theta float64) error {
	xs, err := checkRoPE(x, positions, theta)
	if err != nil {
		return err
	}
	heads, dh := x.Dim(1), x.Dim(2)
	half := dh / 2
	maxPos := 0
	for _, p := range positions {
		maxPos = max(maxPos, p)
	}
	var tab *ropeTable
	var invFreq []float32
	if maxPos < ropeTableLimit {
		tab = be.ropeTable(theta, dh, maxPos)
	} else {
		invFreq = ropeInvFreq(theta, dh)
	}
	be.forRows(len(positions), heads*dh, func(lo, hi int) {
		var cos, sin []float32
		if tab == nil {
			cos, sin = make([]float32, half), make([]float32, half)
		}
		for l := lo; l < hi; l++ {
			p := positions[l]
			if tab != nil {
				cos, sin = tab.cos[p*half:(p+1)*half], tab.sin[p*half:(p+1)*half]
			} else {
				ropeAngles(cos, sin, invFreq, p)
			}
			for h := range heads {
				v := xs[(l*heads+h)*dh : (l*heads+h+1)*dh]
				x1s, x2s := v[:half], v[half:]
				for i, x1 := range x1s {
					x2 := x2s[i]
					x1s[i] = x1*cos[i] - x2*sin[i]
					x2s[i] = x2*cos[i] + x1*sin[i]
				}
			}
		}
	})
	return nil
}

// ropeTableLimit bounds the positions a table covers (64 MiB of tables at Dh = 128); larger
// positions are computed per call.
const ropeTableLimit = 1 << 16

// ropeAngles sets cos[i] and sin[i] of position p's angles, as Reference.RoPE computes them.
func ropeAngles(cos, sin, invFreq []float32, p int) {
	for i, f := range invFreq {
		angle := float64(float32(p) * f)
		cos[i], sin[i] = float32(math.Cos(angle)), float32(math.Sin(angle))
	}
}

// ropeKey identifies a table of rotary angles.
type ropeKey struct {
	theta float64
	dh    int
}

// ropeTable holds cos and sin of every position below positions, Dh/2 values per position,
// computed exactly as Reference.RoPE computes them. A table is never modified once published;
// growing replaces it.
type ropeTable struct {
	positions int
	cos, sin  []float32
}

// ropeTableMu serialises growing the tables (readers never block).
var ropeTableMu sync.Mutex

// ropeTable returns a table for theta and dh that covers position maxPos.
func (be *Backend) ropeTable(theta float64, dh, maxPos int) *ropeTable {
	key := ropeKey{theta, dh}
	if v, ok := be.rope.Load(key); ok && v.(*ropeTable).positions > maxPos {
		return v.(*ropeTable)
	}
	ropeTableMu.Lock()
	defer ropeTableMu.Unlock()
	if v, ok := be.rope.Load(key); ok && v.(*ropeTable).positions > maxPos {
		return v.(*ropeTable)
	}
	// Grow to at least double, so a stream of longer inputs costs amortised O(1) per position.
	n := max(maxPos+1, 4096)
	if v, ok := be.rope.Load(key); ok {
		n = max(n, 2*v.(*ropeTable).positions)
	}
	n = min(n, ropeTableLimit)
	invFreq := ropeInvFreq(theta, dh)
	half := dh / 2
	t := &ropeTable{positions: n, cos: make([]float32, n*half), sin: make([]float32, n*half)}
	for p := range n {
		ropeAngles(t.cos[p*half:(p+1)*half], t.sin[p*half:(p+1)*half], invFreq, p)
	}
	be.rope.Store(key, t)
	return t
}

// ropeInvFreq returns the fp32 inverse frequencies 1/theta^(2i/Dh), i < Dh/2.
func ropeInvFreq(theta float64, dh int) []float32 {
	invFreq := make([]float32, dh/2)
	for i := range invFreq {
		invFreq[i] = float32(1 / math.Pow(theta, float64(2*i)/float64(dh)))
	}
	return invFreq
}
