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
	"slices"

	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/sampler"
	"dllm.dev/dllm-operator/runtime/tensor"
)

// Session runs one request's forward passes with dLLM-Cache (dllm-cache-spec.md §1.4): per
// layer it keeps K (after RoPE), V, the attention output and the MLP output of every position,
// and each pass recomputes only what the schedule and V-verify (package featcache) ask for.
// Session implements the samplers' Denoiser interface; a canvas of a fixed shape is passed to
// every call, the prompt (with its padding) in positions [0, PromptLen).
//
// Per layer ≥ 1 a pass is one of the reference's four cases (layer 0 is always case A):
//
//	A  prompt and response refresh: the exact block, writing its features to the cache;
//	B  response only: queries, keys and values of the response rows, over all keys;
//	C  prompt only: the prompt rows, plus the V-verify rows when rho > 0;
//	D  neither: the V-verify rows only when rho > 0, else pure reuse.
//
// Every maintained row's output is x + attn + ffn from the cache. Between prompt refreshes
// nothing reads a prompt row's residual stream except the last prompt row's, which Dream's
// logit shift turns into the first response position's prediction, so layers ≥ 1 update only
// rows [PromptLen−1, L) of each sequence in such passes.
//
// A Session is not safe for concurrent use. With Exact settings every pass is case A in every
// layer and the logits equal Model.Logits' bit for bit.
type Session struct {
	m         *Model
	set       featcache.Settings
	sched     *featcache.Schedule
	seqs      int // B
	seqLen    int // L
	promptLen int // P, padding included
	pad       []int
	lay       rowLayout
	transfer  int // k = ⌊rho·G⌋

	act   *activations
	xq    *tensor.Tensor // (B·L, D) gathered residual rows of the recomputed tokens
	vOld  *tensor.Tensor // (B·L, Hkv·Dh) cached V of the response rows, for V-verify
	sim   *tensor.Tensor // (B·L) cosine similarities
	feats []features

	prompt, gen []int // row indices of every sequence's prompt and response positions
	// Scratch reused by every pass, so a pass allocates only the logits it returns.
	qpos, ids, q, sel, local []int
	heads                    []int          // head source rows for headSpan
	headSpan                 [2]int         // the [from, to) of heads
	logits                   *tensor.Tensor // (B·(L−P+1), V)
	hostLogits, hostSim      []float32      // host copies of logits and sim, returned or read every pass
	blockStart               bool
	stats                    Stats
	warm                     bool     // a full pass has filled every layer's features
	uncond                   *Session // classifier-free guidance's unconditional passes, created on demand
	uncondErr                error
}

// features are one layer's cached features of every position.
type features struct {
	k, v      *tensor.Tensor // (B·L, Hkv·Dh), K after RoPE
	attn, ffn *tensor.Tensor // (B·L, D)
}

// Stats count what a session computed.
type Stats struct {
	// Forwards is the number of forward passes run.
	Forwards int
	// FLOPs is what the session executed: 2 per multiply-add of every projection, V-verify
	// projection and attention product.
	FLOPs int64
	// ExactFLOPs is what the exact path (Model.Logits) executes for the same passes.
	ExactFLOPs int64
	// ReferenceFLOPs is what the reference implementation executes for the same passes: the
	// exact path with logits at every position, as the dLLM-Cache paper counts.
	ReferenceFLOPs int64
	// RecomputedRows and ReusedRows count token-layer pairs whose features were recomputed or
	// taken from the cache.
	RecomputedRows, ReusedRows int64
	// PromptRefreshes and ResponseRefreshes count the passes that refreshed the prompt's or
	// the response's features in every layer.
	PromptRefreshes, ResponseRefreshes int
}

// add adds o's counts to st.
func (st *Stats) add(o Stats) {
	st.Forwards += o.Forwards
	st.FLOPs += o.FLOPs
	st.ExactFLOPs += o.ExactFLOPs
	st.ReferenceFLOPs += o.ReferenceFLOPs
	st.RecomputedRows += o.RecomputedRows
	st.ReusedRows += o.ReusedRows
	st.PromptRefreshes += o.PromptRefreshes
	st.ResponseRefreshes += o.ResponseRefreshes
}

// NewSession allocates the feature storage of a request over seqs sequences of seqLen
// positions whose first promptLen positions are the (left-padded) prompt. pad is the padding
// of each sequence (nil: none).
func (m *Model) NewSession(seqs, seqLen, promptLen int, pad []int, set featcache.Settings) (*Session, error) {
	if err := set.Validate(); err != nil {
		return nil, fmt.Errorf("model: session: %w", err)
	}
	if seqs < 1 || promptLen < 1 || promptLen >= seqLen {
		return nil, fmt.Errorf("model: session of %d sequences of %d positions with a %d-position prompt: %w",
			seqs, seqLen, promptLen, ErrInput)
	}
	if pad != nil && len(pad) != seqs {
		return nil, fmt.Errorf("model: session: %d pad counts for %d sequences: %w", len(pad), seqs, ErrInput)
	}
	for r := range seqs {
		if p := padOf(pad, r); p < 0 || p >= promptLen {
			return nil, fmt.Errorf("model: session: sequence %d has %d padding positions in a %d-position prompt: %w", r, p, promptLen, ErrInput)
		}
	}
	s := &Session{m: m, set: set, sched: featcache.NewSchedule(set), seqs: seqs, seqLen: seqLen,
		promptLen: promptLen, pad: pad, lay: layout(seqs, seqLen, pad), transfer: set.TransferCount(seqLen - promptLen)}
	if err := s.allocate(); err != nil {
		s.Close()
		return nil, fmt.Errorf("model: session: %w", err)
	}
	for r := range seqs {
		for i := range seqLen {
			if i < promptLen {
				s.prompt = append(s.prompt, r*seqLen+i)
			} else {
				s.gen = append(s.gen, r*seqLen+i)
			}
		}
	}
	rows := seqs * seqLen
	s.qpos, s.ids, s.q = make([]int, 0, rows), make([]int, 0, rows), make([]int, 0, rows)
	s.sel, s.local = make([]int, 0, rows), make([]int, 0, rows)
	return s, nil
}

func (s *Session) allocate() error {
	a, rows := s.m.arch, s.seqs*s.seqLen
	kv := a.KVHeads * a.HeadDim
	var err error
	if s.act, err = s.m.allocate(rows); err != nil {
		return err
	}
	alloc := func(rows, cols int) *tensor.Tensor {
		if err != nil {
			return nil
		}
		var t *tensor.Tensor
		t, err = s.m.bufs.get(s.m.b, rows, cols)
		return t
	}
	s.xq, s.vOld = alloc(rows, a.Hidden), alloc(rows, kv)
	if err == nil {
		s.sim, err = s.m.b.Alloc(tensor.F32, rows)
	}
	s.logits = alloc(s.seqs*(s.seqLen-s.promptLen+1), a.Vocab)
	s.hostLogits = make([]float32, s.seqs*(s.seqLen-s.promptLen+1)*a.Vocab)
	s.hostSim = make([]float32, rows)
	s.feats = make([]features, a.Layers)
	for l := range s.feats {
		s.feats[l] = features{k: alloc(rows, kv), v: alloc(rows, kv), attn: alloc(rows, a.Hidden), ffn: alloc(rows, a.Hidden)}
	}
	return err
}

// Unconditional returns the session of the request's unconditional (classifier-free guidance)
// passes: the reference's "cfg" cache, with features and a forward counter of its own. The
// samplers call it once and route the unconditional passes to it. Its Stats are added to this
// session's.
func (s *Session) Unconditional() sampler.Denoiser {
	if s.uncond == nil && s.uncondErr == nil {
		s.uncond, s.uncondErr = s.m.NewSession(s.seqs, s.seqLen, s.promptLen, s.pad, s.set)
	}
	if s.uncondErr != nil {
		return failed{s.m.arch.Vocab, s.uncondErr}
	}
	return s.uncond
}

// failed is a denoiser whose every call fails with err.
type failed struct {
	vocab int
	err   error
}

func (f failed) Vocab() int { return f.vocab }

func (f failed) Logits(context.Context, [][]int, []int, int, int) ([][]float32, error) {
	return nil, f.err
}

// Close hands the session's buffers back to its model, for later sessions and passes to reuse;
// the session must not be used afterwards. Closing twice does nothing.
func (s *Session) Close() {
	if s.uncond != nil {
		s.uncond.Close()
	}
	if s.act != nil {
		s.act.release(s.m)
	}
	for _, t := range []*tensor.Tensor{s.xq, s.vOld, s.logits} {
		s.m.bufs.put(s.m.b, t)
	}
	if s.sim != nil {
		_ = tensor.Release(s.m.b, s.sim) // nothing to do about a failed free
	}
	for _, f := range s.feats {
		for _, t := range []*tensor.Tensor{f.k, f.v, f.attn, f.ffn} {
			s.m.bufs.put(s.m.b, t)
		}
	}
	s.act, s.xq, s.vOld, s.logits, s.sim, s.feats = nil, nil, nil, nil, nil, nil
}

// Vocab returns the number of logits per position.
func (s *Session) Vocab() int { return s.m.arch.Vocab }

// Stats returns what the session, its unconditional passes included, has computed so far.
func (s *Session) Stats() Stats {
	st := s.stats
	if s.uncond != nil {
		st.add(s.uncond.stats)
	}
	return st
}

// StartBlock tells the session that the next pass is the first of a semi-autoregressive block;
// it matters with Settings.RefreshAtBlocks.
func (s *Session) StartBlock() { s.blockStart = true }

// Logits runs the next cached forward pass over canvas, which must have the session's shape and
// padding, and returns the logits of positions [from, to), which must lie in the response. The
// logits live in a buffer of the session that the next call overwrites.
func (s *Session) Logits(ctx context.Context, canvas [][]int, pad []int, from, to int) ([][]float32, error) {
	seqLen, err := s.m.checkInput(canvas, pad, from, to)
	if err != nil {
		return nil, fmt.Errorf("model: session: %w", err)
	}
	if len(canvas) != s.seqs || seqLen != s.seqLen || from < s.promptLen {
		return nil, fmt.Errorf("model: session of %d×%d with a %d-position prompt got %d×%d from %d: %w",
			s.seqs, s.seqLen, s.promptLen, len(canvas), seqLen, from, ErrInput)
	}
	for r := range canvas {
		if padOf(pad, r) != padOf(s.pad, r) {
			return nil, fmt.Errorf("model: session: sequence %d padding changed: %w", r, ErrInput)
		}
	}
	out, err := s.forward(ctx, canvas, from, to)
	if err != nil {
		return nil, fmt.Errorf("model: cached forward: %w", err)
	}
	return split(out, len(canvas), (to-from)*s.m.arch.Vocab), nil
}

func (s *Session) forward(ctx context.Context, canvas [][]int, from, to int) ([]float32, error) {
	ref := s.sched.Next(s.blockStart)
	s.blockStart = false
	if ref.Prompt {
		s.stats.PromptRefreshes++
	}
	if ref.Response {
		s.stats.ResponseRefreshes++
	}
	m, act := s.m, s.act
	if err := s.embed(canvas, !ref.Prompt && s.warm); err != nil {
		return nil, err
	}
	for l := range m.blocks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		prompt, response := ref.Layer(l)
		var err error
		switch {
		case l == 0 && !ref.Prompt && s.warm:
			err = s.firstLayer()
		case prompt && response:
			err = s.full(l)
		default:
			err = s.partial(l, prompt, response)
		}
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", l, err)
		}
	}
	if s.headSpan != [2]int{from, to} || s.heads == nil {
		s.heads, s.headSpan = m.headSources(s.seqs, s.seqLen, s.pad, from, to), [2]int{from, to}
	}
	s.account(to - from)
	return m.logitsInto(s.hostLogits, s.logits, act.x, act.n, s.heads)
}

// embed writes the token embeddings of the canvas into the residual stream: of every row, or
// with live only of rows [P−1, L) of each sequence, the only ones a pass that refreshes no
// prompt reads.
func (s *Session) embed(canvas [][]int, live bool) error {
	if !live {
		return s.m.embedRows(s.act.x, canvas, s.ids)
	}
	lo := s.promptLen - 1
	for r, row := range canvas {
		x, err := s.act.x.Rows(r*s.seqLen+lo, (r+1)*s.seqLen)
		if err != nil {
			return err
		}
		if err := s.m.b.Gather(x, s.m.embed, row[lo:]); err != nil {
			return fmt.Errorf("embed: %w", err)
		}
	}
	return nil
}

// firstLayer is layer 0 (always case A) in a pass that refreshes no prompt: only the rows
// later layers read, [P−1, L) of each sequence, are computed. The other prompt rows' K and V
// at layer 0 depend only on their embeddings, so the cached ones are exactly what a full
// recomputation would give, and their outputs feed nothing but prompt rows no later layer
// reads.
func (s *Session) firstLayer() error {
	q := s.q[:0]
	for r := range s.seqs {
		q = append(q, r*s.seqLen+s.promptLen-1)
	}
	nPrompt := len(q)
	q = append(q, s.gen...)
	s.stats.RecomputedRows += int64(len(q))
	s.stats.ReusedRows += int64(s.seqs*s.seqLen - len(q))
	if err := s.recompute(&s.m.blocks[0], &s.feats[0], q, nPrompt, len(q)); err != nil {
		return err
	}
	return s.residual(&s.feats[0], false)
}

// full is case A: the exact block over every row, writing the layer's features.
func (s *Session) full(l int) error {
	s.warm = true
	f := &s.feats[l]
	s.stats.RecomputedRows += int64(s.seqs * s.seqLen)
	s.stats.FLOPs += s.m.arch.BlockFLOPs(s.seqs*s.seqLen, s.seqLen)
	return s.m.block(&s.m.blocks[l], s.act, s.lay, outputs{k: f.k, v: f.v, attn: f.attn, ffn: f.ffn})
}

// partial is cases B, C and D.
func (s *Session) partial(l int, prompt, response bool) error {
	blk, f := &s.m.blocks[l], &s.feats[l]
	q := s.q[:0]
	if prompt {
		q = append(q, s.prompt...)
	}
	nPrompt := len(q)
	withV := len(q) // rows whose V the recomputation writes
	switch {
	case response:
		q = append(q, s.gen...)
		withV = len(q)
	case s.set.TransferRatio > 0:
		// V-verify runs even when ⌊rho·G⌋ is 0: the reference then still overwrites V.
		sel, err := s.verify(blk, f)
		if err != nil {
			return fmt.Errorf("v-verify: %w", err)
		}
		q = append(q, sel...)
	}
	s.stats.RecomputedRows += int64(len(q))
	s.stats.ReusedRows += int64(s.seqs*s.seqLen - len(q))
	if len(q) > 0 {
		if err := s.recompute(blk, f, q, nPrompt, withV); err != nil {
			return err
		}
	}
	return s.residual(f, prompt)
}

// verify is V-verify (dllm-cache-spec.md §1.5): it projects V for every response row,
// compares it with the cached V, selects per sequence the k least similar rows, overwrites the
// cached V (of every response row, or of the selected ones with PartialV) and returns the
// selected rows, ascending.
func (s *Session) verify(blk *block, f *features) ([]int, error) {
	b, a, g := s.m.b, s.m.arch, len(s.gen)
	v, err := rowViews(g, s.xq, s.act.n, s.act.v, s.vOld, s.sim)
	if err != nil {
		return nil, err
	}
	x, n, vNew, vOld, sim := v[0], v[1], v[2], v[3], v[4]
	if x, err = s.genRows(x, s.act.x); err != nil {
		return nil, err
	}
	if err := b.RMSNorm(n, x, blk.attnNorm, a.NormEps); err != nil {
		return nil, err
	}
	if err := project(b, vNew, n, blk.v, blk.vb); err != nil {
		return nil, err
	}
	s.stats.FLOPs += 2 * int64(g) * int64(a.Hidden) * int64(a.KVHeads*a.HeadDim)
	if vOld, err = s.genRows(vOld, f.v); err != nil {
		return nil, err
	}
	if err := b.Cosine(sim, vNew, vOld); err != nil {
		return nil, err
	}
	simHost := s.hostSim[:g]
	if err := tensor.ReadFloat32(b, simHost, sim); err != nil {
		return nil, err
	}
	perSeq := g / s.seqs
	sel, local := s.sel[:0], s.local[:0]
	for r := range s.seqs {
		for _, j := range featcache.LeastSimilar(simHost[r*perSeq:(r+1)*perSeq], s.transfer) {
			local = append(local, r*perSeq+j)
			sel = append(sel, s.gen[r*perSeq+j])
		}
	}
	if !s.set.PartialV {
		return sel, b.Scatter(f.v, vNew, s.gen)
	}
	part, err := s.vOld.Rows(0, len(local)) // scratch: vOld may be f.v itself
	if err != nil {
		return nil, err
	}
	if err := b.Gather(part, vNew, local); err != nil {
		return nil, err
	}
	return sel, b.Scatter(f.v, part, sel)
}

// genRows returns the response rows of t: with one sequence they are contiguous and read in
// place, else they are gathered into scratch (len(s.gen) rows).
func (s *Session) genRows(scratch, t *tensor.Tensor) (*tensor.Tensor, error) {
	if s.seqs == 1 {
		return t.Rows(s.promptLen, s.seqLen)
	}
	return scratch, s.m.b.Gather(scratch, t, s.gen)
}

// recompute runs the block for rows q (ascending within the prompt part q[:nPrompt] and within
// the rest), writing their K (and V for q[:withV]), attention and MLP outputs into f.
func (s *Session) recompute(blk *block, f *features, q []int, nPrompt, withV int) error {
	b, a, n := s.m.b, s.m.arch, len(q)
	v, err := rowViews(n, s.xq, s.act.n, s.act.q, s.act.k, s.act.att, s.act.out, s.act.gate, s.act.up)
	if err != nil {
		return err
	}
	x, nq, qt, kt, att, out, gate, up := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	if err := b.Gather(x, s.act.x, q); err != nil {
		return err
	}
	if err := b.RMSNorm(nq, x, blk.attnNorm, a.NormEps); err != nil {
		return err
	}
	s.qpos = s.qpos[:0]
	for _, r := range q {
		s.qpos = append(s.qpos, s.lay.positions[r])
	}
	for _, p := range []struct {
		dst, w, c *tensor.Tensor
		heads     int
	}{{qt, blk.q, blk.qb, a.Heads}, {kt, blk.k, blk.kb, a.KVHeads}} {
		if err := project(b, p.dst, nq, p.w, p.c); err != nil {
			return err
		}
		if err := rope(b, p.dst, p.heads, a.HeadDim, s.qpos, a.RopeTheta); err != nil {
			return err
		}
	}
	if err := b.Scatter(f.k, kt, q); err != nil {
		return err
	}
	if withV > 0 {
		w, err := rowViews(withV, nq, s.act.v)
		if err != nil {
			return err
		}
		nv, vt := w[0], w[1]
		if err := project(b, vt, nv, blk.v, blk.vb); err != nil {
			return err
		}
		if err := b.Scatter(f.v, vt, q[:withV]); err != nil {
			return err
		}
	}
	if err := s.attendRows(att, qt, f, q, nPrompt); err != nil {
		return err
	}
	if err := b.MatMul(out, att, blk.o); err != nil {
		return err
	}
	if err := b.Scatter(f.attn, out, q); err != nil {
		return err
	}
	if err := b.Add(x, x, out); err != nil {
		return err
	}
	if err := s.m.mlp(blk, nq, x, gate, up, out); err != nil {
		return err
	}
	s.stats.FLOPs += s.m.arch.BlockFLOPs(n, s.seqLen) - 2*int64(n-withV)*int64(a.Hidden)*int64(a.KVHeads*a.HeadDim)
	return b.Scatter(f.ffn, out, q)
}

// attendRows runs attention for the recomputed rows, sequence by sequence, over all of the
// sequence's cached keys; the prompt part and the rest of q are each ascending. When q is
// ascending as a whole (always for one sequence), each sequence takes one call, so the backend
// prepares its keys once.
func (s *Session) attendRows(att, qt *tensor.Tensor, f *features, q []int, nPrompt int) error {
	l := s.seqLen
	parts := [][2]int{{0, nPrompt}, {nPrompt, len(q)}}
	if slices.IsSorted(q) {
		parts = [][2]int{{0, len(q)}}
	}
	for _, part := range parts {
		for i := part[0]; i < part[1]; {
			r := q[i] / l
			j := i
			for j < part[1] && q[j]/l == r {
				j++
			}
			if err := s.m.attend(att, qt, i, j, f.k, f.v, r*l, (r+1)*l, s.lay.keyMasks[r]); err != nil {
				return fmt.Errorf("attention of sequence %d: %w", r, err)
			}
			i = j
		}
	}
	return nil
}

// residual adds the cached attention and MLP outputs to the maintained rows: every row when
// the prompt was refreshed, else rows [P−1, L) of each sequence.
func (s *Session) residual(f *features, all bool) error {
	b := s.m.b
	if all {
		if err := b.Add(s.act.x, s.act.x, f.attn); err != nil {
			return err
		}
		return b.Add(s.act.x, s.act.x, f.ffn)
	}
	for r := range s.seqs {
		lo, hi := r*s.seqLen+s.promptLen-1, (r+1)*s.seqLen
		x, err := s.act.x.Rows(lo, hi)
		if err != nil {
			return err
		}
		attn, err := f.attn.Rows(lo, hi)
		if err != nil {
			return err
		}
		ffn, err := f.ffn.Rows(lo, hi)
		if err != nil {
			return err
		}
		if err := b.Add(x, x, attn); err != nil {
			return err
		}
		if err := b.Add(x, x, ffn); err != nil {
			return err
		}
	}
	return nil
}

// account adds one pass's head FLOPs, for logitRows positions per sequence, and the exact and
// reference paths' counts.
func (s *Session) account(logitRows int) {
	a := s.m.arch
	s.stats.Forwards++
	s.stats.FLOPs += int64(s.seqs*logitRows) * a.HeadFLOPs()
	s.stats.ExactFLOPs += int64(s.seqs) * a.ExactFLOPs(s.seqLen, logitRows)
	s.stats.ReferenceFLOPs += int64(s.seqs) * a.FLOPs(s.seqLen)
}

// rowViews returns rows [0, n) of each tensor.
func rowViews(n int, ts ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	out := make([]*tensor.Tensor, len(ts))
	for i, t := range ts {
		v, err := t.Rows(0, n)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}
