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
	"errors"
	"fmt"
	"slices"

	"dllm.dev/dllm-operator/runtime/tensor"
	"dllm.dev/dllm-operator/runtime/weights"
)

// ErrInput is returned, wrapped, when a canvas or padding passed to [Model.Logits] is invalid
// (ragged rows, token ids outside the vocabulary, padding that covers a whole row).
var ErrInput = errors.New("invalid model input")

// Arch is the shape and constants of a model, in runtime/model's dimension names.
type Arch struct {
	// Hidden is the model width D.
	Hidden int
	// Layers is the number of transformer blocks.
	Layers int
	// Heads is the number of query heads H; KVHeads (Hkv) divides it.
	Heads, KVHeads int
	// HeadDim is Dh; Heads·HeadDim == Hidden.
	HeadDim int
	// Intermediate is the MLP width I.
	Intermediate int
	// Vocab is the number of embedding and LM head rows V.
	Vocab int
	// RopeTheta is the RoPE base.
	RopeTheta float64
	// NormEps is the epsilon of every RMSNorm.
	NormEps float32
	// QKVBias says the q, k and v projections have biases (Dream).
	QKVBias bool
	// ShiftLogits says the network predicts position i from the hidden state at i−1 (Dream,
	// initialised from an autoregressive model), so Logits shifts its output right by one
	// position; the first position keeps its own prediction.
	ShiftLogits bool
}

// ArchOf returns the shape a checkpoint's normalised config describes, without the
// family-specific ShiftLogits, which the family packages set.
func ArchOf(c weights.Config) Arch {
	return Arch{
		Hidden: c.Hidden, Layers: c.Layers, Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: c.HeadDim,
		Intermediate: c.Intermediate, Vocab: c.Vocab,
		RopeTheta: c.RopeTheta, NormEps: float32(c.RMSNormEps), QKVBias: c.QKVBias,
	}
}

// Validate reports whether a describes a network Load can build.
func (a Arch) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"hidden", a.Hidden}, {"layers", a.Layers}, {"heads", a.Heads}, {"kv heads", a.KVHeads},
		{"head dim", a.HeadDim}, {"intermediate", a.Intermediate}, {"vocab", a.Vocab}} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("%s is %d, want > 0", f.name, f.v))
		}
	}
	if a.Heads > 0 && a.KVHeads > 0 && a.Heads%a.KVHeads != 0 {
		errs = append(errs, fmt.Errorf("kv heads %d do not divide heads %d", a.KVHeads, a.Heads))
	}
	if a.Heads*a.HeadDim != a.Hidden {
		errs = append(errs, fmt.Errorf("heads %d × head dim %d != hidden %d", a.Heads, a.HeadDim, a.Hidden))
	}
	if a.HeadDim%2 != 0 {
		errs = append(errs, fmt.Errorf("head dim %d is odd; RoPE rotates halves", a.HeadDim))
	}
	if a.RopeTheta <= 0 {
		errs = append(errs, fmt.Errorf("rope theta %v, want > 0", a.RopeTheta))
	}
	if a.NormEps <= 0 {
		errs = append(errs, fmt.Errorf("norm eps %v, want > 0", a.NormEps))
	}
	return errors.Join(errs...)
}

// FLOPs returns the floating-point operations of one reference forward pass over one row of
// seqLen positions, with logits at every position as the reference computes them (and as the
// dLLM-Cache paper counts): 2 per multiply-add of every projection, the attention scores and
// the weighted sum, and the LM head. Norms, RoPE and activations are left out (O(L·D)).
func (a Arch) FLOPs(seqLen int) int64 { return a.ExactFLOPs(seqLen, seqLen) }

// ExactFLOPs is FLOPs for the exact path of Model.Logits, which runs the LM head only on the
// logitRows positions whose logits are asked for.
func (a Arch) ExactFLOPs(seqLen, logitRows int) int64 {
	return int64(a.Layers)*a.BlockFLOPs(seqLen, seqLen) + int64(logitRows)*a.HeadFLOPs()
}

// BlockFLOPs returns one block's FLOPs for rows query rows that attend over keys keys:
// the q, k, v and output projections and the MLP of those rows, and their attention products.
func (a Arch) BlockFLOPs(rows, keys int) int64 {
	r, d := int64(rows), int64(a.Hidden)
	q, kv, i := int64(a.Heads*a.HeadDim), int64(a.KVHeads*a.HeadDim), int64(a.Intermediate)
	proj := 2 * r * d * (2*q + 2*kv) // q, k, v in; attention output back to d
	mlp := 2 * r * d * 3 * i         // gate, up, down
	attn := 4 * r * int64(keys) * q  // scores and weighted sum, every head
	return proj + mlp + attn
}

// HeadFLOPs returns the LM head's FLOPs for one position.
func (a Arch) HeadFLOPs() int64 { return 2 * int64(a.Hidden) * int64(a.Vocab) }

// LayerNames are the checkpoint names of one block's tensors. The bias names are empty for a
// network without q/k/v biases.
type LayerNames struct {
	AttnNorm, Q, K, V, QBias, KBias, VBias, O string
	FFNNorm, Gate, Up, Down                   string
}

// Names are the checkpoint names of a network's tensors.
type Names struct {
	Embed, FinalNorm, Head string
	// Layer returns the names of block i.
	Layer func(i int) LayerNames
}

// Source gives access to a checkpoint's tensors; *weights.Checkpoint implements it.
type Source interface {
	Tensor(name string) (weights.Tensor, error)
}

// Hook observes the residual stream during a forward pass: layer 0 is the token embeddings and
// layer i the output of block i, a (B·L, D) tensor valid only during the call. Tests compare it
// with the reference's hidden states.
type Hook func(layer int, hidden *tensor.Tensor) error

// block holds one transformer block's weights on the backend, with their shapes.
type block struct {
	attnNorm *tensor.Tensor // (D)
	q        *tensor.Tensor // (H·Dh, D)
	k, v     *tensor.Tensor // (Hkv·Dh, D)
	qb       *tensor.Tensor // (H·Dh), nil without biases
	kb, vb   *tensor.Tensor // (Hkv·Dh), nil without biases
	o        *tensor.Tensor // (D, H·Dh)
	ffnNorm  *tensor.Tensor // (D)
	gate, up *tensor.Tensor // (I, D)
	down     *tensor.Tensor // (D, I)
}

// Model is a loaded network on a backend. It implements the sampler's Denoiser interface.
type Model struct {
	b         tensor.Backend
	arch      Arch
	embed     *tensor.Tensor // (V, D)
	finalNorm *tensor.Tensor // (D)
	head      *tensor.Tensor // (V, D)
	blocks    []block
	bufs      buffers // idle activations and session features, reused by later requests
}

// Load copies the tensors names lists from src to b as F32 and checks each one's shape against
// arch. Errors name the tensor (and, for a checkpoint, its file).
func Load(b tensor.Backend, src Source, arch Arch, names Names) (*Model, error) {
	if err := arch.Validate(); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	d, q, kv, in := arch.Hidden, arch.Heads*arch.HeadDim, arch.KVHeads*arch.HeadDim, arch.Intermediate
	l := loader{b: b, src: src}
	m := &Model{b: b, arch: arch}
	m.embed = l.load(names.Embed, arch.Vocab, d)
	m.finalNorm = l.load(names.FinalNorm, d)
	m.head = l.load(names.Head, arch.Vocab, d)
	m.blocks = make([]block, arch.Layers)
	for i := range m.blocks {
		n := names.Layer(i)
		blk := &m.blocks[i]
		blk.attnNorm = l.load(n.AttnNorm, d)
		blk.q, blk.k, blk.v = l.load(n.Q, q, d), l.load(n.K, kv, d), l.load(n.V, kv, d)
		if arch.QKVBias {
			blk.qb, blk.kb, blk.vb = l.load(n.QBias, q), l.load(n.KBias, kv), l.load(n.VBias, kv)
		}
		blk.o = l.load(n.O, d, q)
		blk.ffnNorm = l.load(n.FFNNorm, d)
		blk.gate, blk.up, blk.down = l.load(n.Gate, in, d), l.load(n.Up, in, d), l.load(n.Down, d, in)
	}
	if l.err != nil {
		return nil, fmt.Errorf("model: %w", l.err)
	}
	if err := m.prepack(); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return m, nil
}

// prepack hands every projection weight to a backend that can store it in its MatMul layout
// once (tensor.Prepacker).
func (m *Model) prepack() error {
	p, ok := m.b.(tensor.Prepacker)
	if !ok {
		return nil
	}
	ws := []*tensor.Tensor{m.head}
	for i := range m.blocks {
		blk := &m.blocks[i]
		ws = append(ws, blk.q, blk.k, blk.v, blk.o, blk.gate, blk.up, blk.down)
	}
	for _, w := range ws {
		if err := p.Prepack(w); err != nil {
			return fmt.Errorf("prepack %v: %w", w, err)
		}
	}
	return nil
}

// loader copies checkpoint tensors to a backend, remembering the first error so Load reads as
// a list of tensors.
type loader struct {
	b   tensor.Backend
	src Source
	err error
}

func (l *loader) load(name string, shape ...int) *tensor.Tensor {
	if l.err != nil {
		return nil
	}
	t, err := l.src.Tensor(name)
	if err != nil {
		l.err = err
		return nil
	}
	where := name
	if t.File != "" {
		where = fmt.Sprintf("%s in %s", name, t.File)
	}
	if !slices.Equal(t.Shape, shape) {
		l.err = fmt.Errorf("tensor %s has shape %v, want %v", where, t.Shape, shape)
		return nil
	}
	values, err := t.Float32()
	if err != nil {
		l.err = fmt.Errorf("tensor %s: %w", where, err)
		return nil
	}
	x, err := l.b.FromFloat32(tensor.F32, values, shape...)
	if err != nil {
		l.err = fmt.Errorf("tensor %s: %w", where, err)
		return nil
	}
	return x
}

// Arch returns the network's shape.
func (m *Model) Arch() Arch { return m.arch }

// Vocab returns the number of logits per position.
func (m *Model) Vocab() int { return m.arch.Vocab }

// Logits runs the network on a batch of equal-length, left-padded rows and returns, for each
// row, the logits of positions [from, to), (to−from)·V values, position-major; the
// logits of position i are the prediction for position i (Dream's shift is applied). The LM
// head runs only on the rows these need. Padding positions get the logits their hidden state
// gives; they predict nothing. The caller owns the returned slices. Model implements the
// samplers' Denoiser interface with it.
func (m *Model) Logits(ctx context.Context, canvas [][]int, pad []int, from, to int) ([][]float32, error) {
	return m.forward(ctx, canvas, pad, from, to, nil)
}

// Forward returns the logits of every position, like Logits from 0 to the row length, and
// calls hook with the residual stream after the embedding and after every block.
func (m *Model) Forward(ctx context.Context, canvas [][]int, pad []int, hook Hook) ([][]float32, error) {
	to := 0
	if len(canvas) > 0 {
		to = len(canvas[0])
	}
	return m.forward(ctx, canvas, pad, 0, to, hook)
}

// headSources returns, for every row and every position in [from, to), the row of the
// (B·L, D) residual stream whose final hidden state predicts it: the position itself, or with
// Dream's shift the position before it, except at the first real token, which keeps its own.
func (m *Model) headSources(rows, seqLen int, pad []int, from, to int) []int {
	src := make([]int, 0, rows*(to-from))
	for r := range rows {
		first := padOf(pad, r)
		for i := from; i < to; i++ {
			s := i
			if m.arch.ShiftLogits && i > first {
				s = i - 1
			}
			src = append(src, r*seqLen+s)
		}
	}
	return src
}

// split cuts the logits of every row's positions [from, to) into one slice per row.
func split(logits []float32, rows, perRow int) [][]float32 {
	out := make([][]float32, rows)
	for r := range out {
		out[r] = logits[r*perRow : (r+1)*perRow : (r+1)*perRow]
	}
	return out
}

// checkInput validates a batch and the positions [from, to) whose logits are wanted, and returns
// the row length.
func (m *Model) checkInput(canvas [][]int, pad []int, from, to int) (int, error) {
	if len(canvas) == 0 || len(canvas[0]) == 0 {
		return 0, fmt.Errorf("empty canvas: %w", ErrInput)
	}
	if pad != nil && len(pad) != len(canvas) {
		return 0, fmt.Errorf("%d pad counts for %d rows: %w", len(pad), len(canvas), ErrInput)
	}
	seqLen := len(canvas[0])
	for r, row := range canvas {
		if len(row) != seqLen {
			return 0, fmt.Errorf("row %d has %d positions, row 0 has %d: %w", r, len(row), seqLen, ErrInput)
		}
		for i, id := range row {
			if id < 0 || id >= m.arch.Vocab {
				return 0, fmt.Errorf("row %d position %d: token id %d outside [0, %d): %w", r, i, id, m.arch.Vocab, ErrInput)
			}
		}
		if p := padOf(pad, r); p < 0 || p >= seqLen {
			return 0, fmt.Errorf("row %d: %d padding positions in a row of %d: %w", r, p, seqLen, ErrInput)
		}
	}
	if from < 0 || to <= from || to > seqLen {
		return 0, fmt.Errorf("logits of positions [%d, %d) of rows of %d: %w", from, to, seqLen, ErrInput)
	}
	return seqLen, nil
}

// padOf returns the padding of row r; nil pad means none.
func padOf(pad []int, r int) int {
	if pad == nil {
		return 0
	}
	return pad[r]
}

// Meter is the exact path as a samplers' Denoiser that counts what it computes, the way a
// Session counts the cached path: its FLOPs are its ExactFLOPs.
type Meter struct {
	M     *Model
	stats Stats
}

// Vocab returns the number of logits per position.
func (mt *Meter) Vocab() int { return mt.M.arch.Vocab }

// Logits is Model.Logits, counted.
func (mt *Meter) Logits(ctx context.Context, canvas [][]int, pad []int, from, to int) ([][]float32, error) {
	out, err := mt.M.Logits(ctx, canvas, pad, from, to)
	if err != nil {
		return nil, err
	}
	a, rows, seqLen := mt.M.arch, int64(len(canvas)), len(canvas[0])
	mt.stats.Forwards++
	mt.stats.FLOPs += rows * a.ExactFLOPs(seqLen, to-from)
	mt.stats.ExactFLOPs = mt.stats.FLOPs
	mt.stats.ReferenceFLOPs += rows * a.FLOPs(seqLen)
	mt.stats.RecomputedRows += rows * int64(seqLen*a.Layers)
	return out, nil
}

// Stats returns what the meter has counted so far.
func (mt *Meter) Stats() Stats { return mt.stats }
