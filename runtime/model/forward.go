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

package model

import (
	"context"
	"fmt"

	"dllm.dev/dllm-operator/runtime/tensor"
)

// activations are one forward pass's buffers, M = B·L rows; blocks reuse them.
type activations struct {
	x    *tensor.Tensor // (M, D) residual stream
	n    *tensor.Tensor // (M, D) normalised input of attention, then of the MLP
	q    *tensor.Tensor // (M, H·Dh)
	k, v *tensor.Tensor // (M, Hkv·Dh)
	att  *tensor.Tensor // (M, H·Dh) attention output before the output projection
	out  *tensor.Tensor // (M, D) output projection, then MLP down projection
	gate *tensor.Tensor // (M, I), then silu(gate)·up
	up   *tensor.Tensor // (M, I)
}

func (m *Model) allocate(rows int) (*activations, error) {
	a := m.arch
	q, kv := a.Heads*a.HeadDim, a.KVHeads*a.HeadDim
	var act activations
	for _, buf := range []struct {
		dst  **tensor.Tensor
		cols int
	}{{&act.x, a.Hidden}, {&act.n, a.Hidden}, {&act.q, q}, {&act.k, kv}, {&act.v, kv},
		{&act.att, q}, {&act.out, a.Hidden}, {&act.gate, a.Intermediate}, {&act.up, a.Intermediate}} {
		t, err := m.bufs.get(m.b, rows, buf.cols)
		if err != nil {
			act.release(m)
			return nil, fmt.Errorf("allocate activations: %w", err)
		}
		*buf.dst = t
	}
	return &act, nil
}

// release hands the buffers back to m for reuse.
func (act *activations) release(m *Model) {
	for _, t := range []*tensor.Tensor{act.x, act.n, act.q, act.k, act.v, act.att, act.out, act.gate, act.up} {
		m.bufs.put(m.b, t)
	}
}

// rowLayout is the per-row information every block needs: RoPE positions for all M rows and
// the key mask of each row (nil when the row has no padding).
type rowLayout struct {
	seqLen    int
	positions []int
	keyMasks  [][]bool
}

func layout(rows, seqLen int, pad []int) rowLayout {
	lay := rowLayout{seqLen: seqLen, positions: make([]int, rows*seqLen), keyMasks: make([][]bool, rows)}
	for r := range rows {
		p := padOf(pad, r)
		for i := range seqLen {
			// Positions count from the first real token; padding rows sit at 0 and are masked.
			lay.positions[r*seqLen+i] = max(i-p, 0)
		}
		if p > 0 {
			mask := make([]bool, seqLen)
			for i := p; i < seqLen; i++ {
				mask[i] = true
			}
			lay.keyMasks[r] = mask
		}
	}
	return lay
}

// forward runs the network and returns the logits of every row's positions [from, to).
func (m *Model) forward(ctx context.Context, canvas [][]int, pad []int, from, to int, hook Hook) ([][]float32, error) {
	seqLen, err := m.checkInput(canvas, pad, from, to)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	out, err := m.run(ctx, canvas, pad, seqLen, from, to, hook)
	if err != nil {
		return nil, fmt.Errorf("model: forward: %w", err)
	}
	return split(out, len(canvas), (to-from)*m.arch.Vocab), nil
}

// run runs the blocks over every position and the LM head over the rows that predict
// positions [from, to); it returns B·(to−from)·V logits.
func (m *Model) run(ctx context.Context, canvas [][]int, pad []int, seqLen, from, to int, hook Hook) ([]float32, error) {
	rows := len(canvas) * seqLen
	act, err := m.allocate(rows)
	if err != nil {
		return nil, err
	}
	defer act.release(m)
	if err := m.embedRows(act.x, canvas, make([]int, 0, rows)); err != nil {
		return nil, err
	}
	if err := observe(hook, 0, act.x); err != nil {
		return nil, err
	}
	lay := layout(len(canvas), seqLen, pad)
	for i := range m.blocks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := m.block(&m.blocks[i], act, lay, act.scratch()); err != nil {
			return nil, fmt.Errorf("block %d: %w", i, err)
		}
		if err := observe(hook, i+1, act.x); err != nil {
			return nil, err
		}
	}
	return m.logitsOf(act.x, act.n, m.headSources(len(canvas), seqLen, pad, from, to))
}

// logitsOf gathers the residual rows src of x into scratch (at least len(src) rows), normalises
// them and returns their logits.
func (m *Model) logitsOf(x, scratch *tensor.Tensor, src []int) ([]float32, error) {
	logits, err := m.b.Alloc(tensor.F32, len(src), m.arch.Vocab)
	if err != nil {
		return nil, fmt.Errorf("allocate logits: %w", err)
	}
	defer func() { _ = tensor.Release(m.b, logits) }()
	return m.logitsInto(nil, logits, x, scratch, src)
}

// logitsInto is logitsOf computing into logits (at least len(src) rows of V) on the backend,
// and returning them in host, reused when it holds at least len(src)·V values, else in a new
// slice.
func (m *Model) logitsInto(host []float32, logits, x, scratch *tensor.Tensor, src []int) ([]float32, error) {
	logits, err := logits.Rows(0, len(src))
	if err != nil {
		return nil, err
	}
	n, err := scratch.Rows(0, len(src))
	if err != nil {
		return nil, err
	}
	if err := m.b.Gather(n, x, src); err != nil {
		return nil, fmt.Errorf("gather head rows: %w", err)
	}
	if err := m.b.RMSNorm(n, n, m.finalNorm, m.arch.NormEps); err != nil {
		return nil, fmt.Errorf("final norm: %w", err)
	}
	if err := m.b.MatMul(logits, n, m.head); err != nil {
		return nil, fmt.Errorf("lm head: %w", err)
	}
	if want := len(src) * m.arch.Vocab; len(host) >= want {
		host = host[:want]
		return host, tensor.ReadFloat32(m.b, host, logits)
	}
	return m.b.ToFloat32(logits)
}

// embedRows writes the token embeddings of every row of canvas into x (B·L, D), flattening the
// ids into buf's storage.
func (m *Model) embedRows(x *tensor.Tensor, canvas [][]int, buf []int) error {
	ids := buf[:0]
	for _, row := range canvas {
		ids = append(ids, row...)
	}
	if err := m.b.Gather(x, m.embed, ids); err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	return nil
}

func observe(hook Hook, layer int, x *tensor.Tensor) error {
	if hook == nil {
		return nil
	}
	if err := hook(layer, x); err != nil {
		return fmt.Errorf("hook at layer %d: %w", layer, err)
	}
	return nil
}

// outputs are where a block writes the features dLLM-Cache keeps: K after RoPE and V (M,
// Hkv·Dh), the attention output after the output projection and the MLP output (M, D). The
// exact path points them at scratch buffers; a cached session at its feature storage.
type outputs struct {
	k, v, attn, ffn *tensor.Tensor
}

// scratch returns outputs that point at act's own buffers.
func (act *activations) scratch() outputs {
	return outputs{k: act.k, v: act.v, attn: act.out, ffn: act.out}
}

// block runs one transformer block over every row, in place on act.x.
func (m *Model) block(blk *block, act *activations, lay rowLayout, out outputs) error {
	b, a := m.b, m.arch
	if err := b.RMSNorm(act.n, act.x, blk.attnNorm, a.NormEps); err != nil {
		return fmt.Errorf("attention norm: %w", err)
	}
	for _, p := range []struct {
		name      string
		dst, w, c *tensor.Tensor
		heads     int
	}{{"q", act.q, blk.q, blk.qb, a.Heads}, {"k", out.k, blk.k, blk.kb, a.KVHeads}, {"v", out.v, blk.v, blk.vb, 0}} {
		if err := project(b, p.dst, act.n, p.w, p.c); err != nil {
			return fmt.Errorf("%s projection: %w", p.name, err)
		}
		if p.heads > 0 {
			if err := rope(b, p.dst, p.heads, a.HeadDim, lay.positions, a.RopeTheta); err != nil {
				return fmt.Errorf("%s rope: %w", p.name, err)
			}
		}
	}
	if err := m.attention(act.att, act.q, out.k, out.v, lay); err != nil {
		return err
	}
	if err := b.MatMul(out.attn, act.att, blk.o); err != nil {
		return fmt.Errorf("output projection: %w", err)
	}
	if err := b.Add(act.x, act.x, out.attn); err != nil {
		return fmt.Errorf("attention residual: %w", err)
	}
	if err := m.mlp(blk, act.n, act.x, act.gate, act.up, out.ffn); err != nil {
		return err
	}
	if err := b.Add(act.x, act.x, out.ffn); err != nil {
		return fmt.Errorf("mlp residual: %w", err)
	}
	return nil
}

// project computes dst = x·wᵀ (+ bias when bias is not nil).
func project(b tensor.Backend, dst, x, w, bias *tensor.Tensor) error {
	if err := b.MatMul(dst, x, w); err != nil {
		return err
	}
	if bias != nil {
		return b.AddBias(dst, dst, bias)
	}
	return nil
}

func rope(b tensor.Backend, x *tensor.Tensor, heads, headDim int, positions []int, theta float64) error {
	v, err := x.Reshape(x.Dim(0), heads, headDim)
	if err != nil {
		return err
	}
	return b.RoPE(v, positions, theta)
}

// attention runs each sequence's bidirectional attention over its own keys: q and att (M,
// H·Dh), k and v (M, Hkv·Dh), all rows of every sequence.
func (m *Model) attention(att, q, k, v *tensor.Tensor, lay rowLayout) error {
	l := lay.seqLen
	for r, mask := range lay.keyMasks {
		if err := m.attend(att, q, r*l, (r+1)*l, k, v, r*l, (r+1)*l, mask); err != nil {
			return fmt.Errorf("attention row %d: %w", r, err)
		}
	}
	return nil
}

// attend runs attention for query rows [q0, q1) of q (writing the same rows of att) over key
// rows [k0, k1) of k and v, with keyMask over the keys (nil: all visible).
func (m *Model) attend(att, q *tensor.Tensor, q0, q1 int, k, v *tensor.Tensor, k0, k1 int, keyMask []bool) error {
	a := m.arch
	views := make([]*tensor.Tensor, 4)
	for i, src := range []struct {
		t      *tensor.Tensor
		lo, hi int
		heads  int
	}{{att, q0, q1, a.Heads}, {q, q0, q1, a.Heads}, {k, k0, k1, a.KVHeads}, {v, k0, k1, a.KVHeads}} {
		rows, err := src.t.Rows(src.lo, src.hi)
		if err != nil {
			return err
		}
		if views[i], err = rows.Reshape(src.hi-src.lo, src.heads, a.HeadDim); err != nil {
			return err
		}
	}
	return m.b.Attention(views[0], views[1], views[2], views[3], keyMask)
}

// mlp computes out = Down(silu(Gate n)·Up n) with n = RMSNorm(x)·w_ffn_norm, using n, gate
// and up as scratch; every tensor has the same number of rows.
func (m *Model) mlp(blk *block, n, x, gate, up, out *tensor.Tensor) error {
	b := m.b
	if err := b.RMSNorm(n, x, blk.ffnNorm, m.arch.NormEps); err != nil {
		return fmt.Errorf("mlp norm: %w", err)
	}
	if err := b.MatMul(gate, n, blk.gate); err != nil {
		return fmt.Errorf("gate projection: %w", err)
	}
	if err := b.MatMul(up, n, blk.up); err != nil {
		return fmt.Errorf("up projection: %w", err)
	}
	if err := b.SiLUMul(gate, gate, up); err != nil {
		return fmt.Errorf("mlp activation: %w", err)
	}
	if err := b.MatMul(out, gate, blk.down); err != nil {
		return fmt.Errorf("down projection: %w", err)
	}
	return nil
}
