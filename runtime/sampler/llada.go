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

package sampler

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
)

// LLaDA generates o.GenLength response tokens for each prompt with LLaDA's reference sampler
// (generate() of ML-GSAI/LLaDA, arXiv:2502.09992), optionally with Fast-dLLM's
// threshold parallel decoding (arXiv:2505.22618):
//
//	x = [pad | prompt | mask × GenLength]           per row
//	for each block k of BlockLength response positions, left to right:
//	    m[b] = masked positions of row b in block k
//	    counts[b] = transferCounts(m[b], S)          S = Steps / numBlocks
//	    for step i in [0, S):                         (Threshold: until the block has no mask)
//	        logits = Logits(x)                        (CFG: un + (s+1)(cond − un))
//	        for each masked position p of block k, per row:
//	            x0[p]   = argmax logits[p] (temperature 0) or Gumbel-max at the temperature
//	            conf[p] = softmax(logits[p])[x0[p]] (LowConfidence) or U(0, 1) (Random),
//	                      p1 − p2 (LowMargin) or Σ p·log(p + 1e-10) (HighEntropy)
//	        commit the counts[b][i] most confident positions of each row
//	        (Threshold: those with conf ≥ Threshold, at least one; all on the block's last step)
//
// Positions outside the current block are never candidates, which is the reference's
// "confidence −inf beyond the block and where x is not the mask". Every budgeted step runs a
// forward even when it commits nothing (when a block has fewer masks than steps), as the
// reference does; without Threshold the run always takes o.Steps steps.
//
// onStep, if not nil, is called after every step; ctx is checked before every step and passed
// to the denoiser. On error LLaDA returns no result.
func LLaDA(ctx context.Context, d Denoiser, prompts [][]int, o LLaDAOptions, onStep StepFunc) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	vocab := d.Vocab()
	if err := o.checkVocab(vocab); err != nil {
		return nil, err
	}
	c, err := newCanvas(prompts, o.PadID, o.MaskID, o.GenLength, vocab)
	if err != nil {
		return nil, err
	}
	rs, err := newStreams(o.Seed, o.Seeds, c)
	if err != nil {
		return nil, err
	}
	r := &lladaRun{o: &o, d: d, c: c, rand: rs, workers: runtime.GOMAXPROCS(0)}
	blocks := o.GenLength / o.BlockLength
	perBlock := o.Steps / blocks
	steps := 0
	for k := range blocks {
		n, err := r.block(ctx, k, perBlock, steps, onStep)
		steps += n
		if err != nil {
			return nil, err
		}
	}
	return c.result(steps), nil
}

// lladaRun is the state of one LLaDA call.
type lladaRun struct {
	o       *LLaDAOptions
	d       Denoiser
	c       *canvas
	rand    streams
	workers int // the most goroutines predicting positions

	cond, uncond [][]float32 // this step's logits; uncond is nil without CFG
	un           Denoiser    // the denoiser of the unconditional passes
	guided       int         // steps run with guidance, for the CFG cache schedule
	residual     [][]float32 // cond − un of the last unconditional pass (response region)
	reused       bool        // this step reuses residual instead of an unconditional pass
}

// block runs the steps of block k and returns how many it ran. first is the global index of
// its first step.
func (r *lladaRun) block(ctx context.Context, k, perBlock, first int, onStep StepFunc) (int, error) {
	lo := r.c.promptLen + k*r.o.BlockLength
	hi := lo + r.o.BlockLength
	counts := make([][]int, len(r.c.rows))
	for b := range r.c.rows {
		counts[b] = transferCounts(len(r.c.masked(b, lo, hi, r.o.MaskID)), perBlock)
	}
	if bs, ok := r.d.(BlockStarter); ok {
		bs.StartBlock()
	}
	for i := range perBlock {
		if r.o.Threshold > 0 && r.blockDone(lo, hi) {
			return i, nil
		}
		if err := ctx.Err(); err != nil {
			return i, fmt.Errorf("llada step %d: %w", first+i, err)
		}
		choose := func(b int, cands []candidate) []candidate {
			switch {
			case r.o.Threshold == 0:
				return mostConfident(cands, counts[b][i])
			case i == perBlock-1:
				return cands
			default:
				return overThreshold(cands, r.o.Threshold)
			}
		}
		st, err := r.step(ctx, first+i, lo, hi, choose)
		if err == nil {
			st.Index, st.Block = first+i, k
			err = r.c.commit(st, onStep)
		}
		if err != nil {
			return i + 1, fmt.Errorf("llada step %d: %w", first+i, err)
		}
	}
	return perBlock, nil
}

// blockDone reports whether no row has a mask left in [lo, hi).
func (r *lladaRun) blockDone(lo, hi int) bool {
	for b := range r.c.rows {
		if len(r.c.masked(b, lo, hi, r.o.MaskID)) > 0 {
			return false
		}
	}
	return true
}

// step runs step i: one forward, a prediction for every masked position in [lo, hi), and
// choose picks, per row, the candidates to commit.
func (r *lladaRun) step(ctx context.Context, i, lo, hi int, choose func(int, []candidate) []candidate) (Step, error) {
	if err := r.forward(ctx, lo, hi); err != nil {
		return Step{}, err
	}
	cands := make([][]candidate, len(r.c.rows))
	for b := range r.c.rows {
		cands[b] = candidatesAt(r.c.masked(b, lo, hi, r.o.MaskID))
	}
	predictAll(cands, r.c.vocab, r.workers, func(_, b int, c *candidate) {
		c.tok, c.conf = r.predict(r.positionLogits(b, c.pos), r.rand.at(b, i, c.pos))
	})
	st := Step{Positions: make([][]int, len(r.c.rows)), Tokens: make([][]int, len(r.c.rows))}
	for b := range r.c.rows {
		st.Positions[b], st.Tokens[b] = positionsAndTokens(choose(b, cands[b]))
	}
	return st, nil
}

// forward runs the denoiser on the canvas and, with CFG, on the canvas with every prompt
// position (padding included, as the reference's prompt_index) replaced by the mask. It asks
// for the logits of the current block [lo, hi) only, or of the whole response with the CFG
// cache, whose residual must cover the blocks of later steps.
func (r *lladaRun) forward(ctx context.Context, lo, hi int) error {
	if r.o.CFGScale > 0 && r.o.CFGInterval > 1 {
		lo, hi = r.c.promptLen, len(r.c.rows[0])
	}
	var err error
	r.cond, err = r.c.logits(ctx, r.d, r.c.rows, lo, hi)
	if err != nil || r.o.CFGScale == 0 {
		return err
	}
	r.guided++
	n, k := r.guided, r.o.CFGInterval
	r.reused = k > 1 && (n-1)%k != 0 && n > 5 && r.residual != nil
	if r.reused {
		return nil
	}
	if r.un == nil {
		r.un = r.d
		if g, ok := r.d.(GuidedDenoiser); ok {
			r.un = g.Unconditional()
		}
	}
	un := make([][]int, len(r.c.rows))
	for b, row := range r.c.rows {
		un[b] = make([]int, len(row))
		copy(un[b], row)
		for i := range r.c.promptLen {
			un[b][i] = r.o.MaskID
		}
	}
	if r.uncond, err = r.c.logits(ctx, r.un, un, lo, hi); err != nil {
		return err
	}
	if r.o.CFGInterval > 1 {
		r.residual = make([][]float32, len(r.cond))
		for b := range r.cond {
			r.residual[b] = make([]float32, len(r.cond[b]))
			for i, c := range r.cond[b] {
				r.residual[b][i] = c - r.uncond[b][i]
			}
		}
	}
	return nil
}

// positionLogits returns the logits of position p of row b, combined for CFG as
// un + (s+1)·(cond − un) in float32, the logits' dtype in the reference.
func (r *lladaRun) positionLogits(b, p int) []float32 {
	l := r.c.at(r.cond[b], p)
	if r.reused {
		res := r.c.at(r.residual[b], p)
		s := float32(r.o.CFGScale + 1)
		for i := range l {
			l[i] = (l[i] - res[i]) + s*res[i]
		}
		return l
	}
	if r.uncond != nil {
		un := r.c.at(r.uncond[b], p)
		s := float32(r.o.CFGScale + 1)
		for i := range l {
			l[i] = un[i] + float32(s*(l[i]-un[i]))
		}
	}
	return l
}

// predict chooses the token of one position and its confidence. It modifies logits.
func (r *lladaRun) predict(logits []float32, rng *rand.Rand) (int, float64) {
	o := r.o
	if o.LogitsEOSInf {
		logits[o.EOSID] = float32(math.Inf(-1))
	}
	var tok int
	if o.Temperature > 0 {
		tok = gumbelArgmax(logits, o.Temperature, o.MaskID, rng)
	} else {
		tok = argmaxSkip(logits, o.MaskID)
	}
	if o.Remasking == Random {
		return tok, rng.Float64()
	}
	if o.ConfidenceEOSEoTInf && o.EoTID >= 0 {
		logits[o.EoTID] = float32(math.Inf(-1))
	}
	switch o.Remasking {
	case LowMargin:
		return tok, softmaxMargin(logits)
	case HighEntropy:
		return tok, softmaxNegEntropy(logits)
	default:
		return tok, softmaxProb(logits, tok)
	}
}
