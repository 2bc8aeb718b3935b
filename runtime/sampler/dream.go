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
	"runtime"
	"slices"
)

// Dream generates o.MaxNewTokens response tokens for each prompt with Dream 7B's
// diffusion_generate / _sample (Dream-org/Dream, generation_utils.py), optionally with Fast-dLLM's
// threshold parallel decoding:
//
//	x  = [pad | prompt | mask × MaxNewTokens]    per row
//	ts = linspace(1, Eps, Steps+1)                in float32
//	for step i in [0, Steps):                     (Threshold: until no mask is left)
//	    logits = Logits(x);  t, s = ts[i], ts[i+1]
//	    Origin: every masked position is committed with probability 1 − s/t (1 on the last
//	            step), with a token drawn by sample_tokens
//	    others: (x0, conf) = sample_tokens(logits[p]) for every masked position p;
//	            n = int(mean masked count over the batch · (1 − s/t)), all on the last step;
//	            commit the n most confident positions of each row, or n drawn without
//	            replacement from softmax(conf / AlgTemp) when AlgTemp > 0
//	            (Threshold: those with conf ≥ Threshold, at least one; all on the last step)
//
// n is capped at each row's own mask count (see the package documentation). With Steps equal
// to MaxNewTokens and Eps 1e-3, step 0 commits nothing: m·(1 − s/t) = 0.999. Without
// Threshold every step runs a forward even when it commits nothing, as the reference does.
//
// onStep, if not nil, is called after every step; ctx is checked before every step and passed
// to the denoiser. On error Dream returns no result.
func Dream(ctx context.Context, d Denoiser, prompts [][]int, o DreamOptions, onStep StepFunc) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	vocab := d.Vocab()
	if err := o.checkVocab(vocab); err != nil {
		return nil, err
	}
	c, err := newCanvas(prompts, o.PadID, o.MaskID, o.MaxNewTokens, vocab)
	if err != nil {
		return nil, err
	}
	workers := runtime.GOMAXPROCS(0)
	rs, err := newStreams(o.Seed, o.Seeds, c)
	if err != nil {
		return nil, err
	}
	r := &dreamRun{o: &o, d: d, c: c, rand: rs, workers: workers, samplers: make([]*tokenSampler, workers)}
	timesteps := dreamTimesteps(o.Steps, o.Eps)
	i := 0
	for ; i < o.Steps; i++ {
		if o.Threshold > 0 && r.done() {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("dream step %d: %w", i, err)
		}
		st, err := r.step(ctx, i, timesteps[i], timesteps[i+1])
		if err == nil {
			st.Index = i
			err = c.commit(st, onStep)
		}
		if err != nil {
			return nil, fmt.Errorf("dream step %d: %w", i, err)
		}
	}
	return c.result(i), nil
}

// dreamRun is the state of one Dream call.
type dreamRun struct {
	o        *DreamOptions
	d        Denoiser
	c        *canvas
	rand     streams
	workers  int             // the most goroutines predicting positions
	samplers []*tokenSampler // one per worker, created on first use
}

// sampler returns worker w's token sampler.
func (r *dreamRun) sampler(w int) *tokenSampler {
	if r.samplers[w] == nil {
		r.samplers[w] = newTokenSampler(r.o, r.c.vocab)
	}
	return r.samplers[w]
}

// done reports whether no row has a mask left in its response region.
func (r *dreamRun) done() bool {
	for b := range r.c.rows {
		if len(r.c.masked(b, r.c.promptLen, len(r.c.rows[b]), r.o.MaskID)) > 0 {
			return false
		}
	}
	return true
}

// step runs step i, from time t to time s.
func (r *dreamRun) step(ctx context.Context, i int, t, s float32) (Step, error) {
	logits, err := r.c.logits(ctx, r.d, r.c.rows, r.c.promptLen, len(r.c.rows[0]))
	if err != nil {
		return Step{}, err
	}
	rows := len(r.c.rows)
	masked := make([][]int, rows)
	total := 0
	for b := range rows {
		masked[b] = r.c.masked(b, r.c.promptLen, len(r.c.rows[b]), r.o.MaskID)
		total += len(masked[b])
	}
	last := i == r.o.Steps-1
	var chosen [][]candidate
	if r.o.Algorithm == Origin {
		chosen = r.origin(logits, masked, i, last, t, s)
	} else {
		n := make([]int, rows)
		for b := range rows {
			n[b] = len(masked[b])
			if !last && r.o.Threshold == 0 {
				n[b] = min(n[b], dreamTransferCount(total, rows, t, s))
			}
		}
		chosen = r.ranked(logits, masked, n, i, last)
	}
	st := Step{Positions: make([][]int, rows), Tokens: make([][]int, rows)}
	for b := range rows {
		st.Positions[b], st.Tokens[b] = positionsAndTokens(chosen[b])
	}
	return st, nil
}

// origin is the reference's "origin" step: each masked position is committed with probability
// p = 1 − s/t (float32, compared with a float32 uniform number, as torch.rand), or always on
// the last step, with a token from sample_tokens.
func (r *dreamRun) origin(logits [][]float32, masked [][]int, i int, last bool, t, s float32) [][]candidate {
	p := 1 - float32(s/t)
	v := r.c.vocab
	cands := make([][]candidate, len(masked))
	for b := range masked {
		cands[b] = candidatesAt(masked[b])
	}
	predictAll(cands, v, r.workers, func(w, b int, c *candidate) {
		rng := r.rand.at(b, i, c.pos)
		c.tok = -1 // not committed
		if last || rng.Float32() < p {
			c.tok, c.conf = r.sampler(w).sample(r.c.at(logits[b], c.pos), rng)
		}
	})
	for b := range cands {
		cands[b] = slices.DeleteFunc(cands[b], func(c candidate) bool { return c.tok < 0 })
	}
	return cands
}

// ranked is the step of the confidence-ranked algorithms: it predicts every masked position
// of the rows that commit anything and commits n[b] of row b (Threshold: those over the
// threshold, unless last).
func (r *dreamRun) ranked(logits [][]float32, masked [][]int, n []int, i int, last bool) [][]candidate {
	v := r.c.vocab
	cands := make([][]candidate, len(masked))
	for b := range masked {
		if n[b] > 0 { // otherwise skip the predictions, which would change nothing
			cands[b] = candidatesAt(masked[b])
		}
	}
	predictAll(cands, v, r.workers, func(w, b int, c *candidate) {
		c.tok, c.conf = r.sampler(w).sample(r.c.at(logits[b], c.pos), r.rand.at(b, i, c.pos))
	})
	for b := range cands {
		switch {
		case last:
		case r.o.Threshold > 0:
			thr := r.o.Threshold
			if r.o.Algorithm == Entropy {
				thr = math.Log(thr) // conf ≥ log(thr) ⇔ exp(conf) ≥ thr
			}
			cands[b] = overThreshold(cands[b], thr)
		case r.o.AlgTemp > 0:
			cands[b] = sampleWithoutReplacement(cands[b], n[b], r.o.AlgTemp, r.rand.at(b, i, -1))
		default:
			cands[b] = mostConfident(cands[b], n[b])
		}
	}
	return cands
}
