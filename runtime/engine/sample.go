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

package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/sampler"
	"dllm.dev/dllm-operator/runtime/weights"
)

// sample runs the batch's requests (compatible Params) in one sampler run, each with its own
// seed, on the exact path or on a dLLM-Cache session, and returns the run's result, the
// session's counts and the probes of traced requests (by batch row). It calls stepped after
// every denoising step.
func (e *Engine) sample(ctx context.Context, batch []*job, stepped func()) (*sampler.Result, model.Stats, [][]Probe, error) {
	p := batch[0].req.Params
	prompts := make([][]int, len(batch))
	seeds := make([]uint64, len(batch))
	longest := 0
	for b, j := range batch {
		prompts[b], seeds[b] = j.req.Prompt, j.req.Params.Seed
		longest = max(longest, len(j.req.Prompt))
	}
	exact := &exactCounter{m: e.m}
	var d sampler.Denoiser = exact
	var session *model.Session
	if p.Cache != nil {
		pad := make([]int, len(batch))
		for b, pr := range prompts {
			pad[b] = longest - len(pr)
		}
		var err error
		session, err = e.m.NewSession(len(batch), longest+p.GenLength, longest, pad, *p.Cache)
		if err != nil {
			return nil, model.Stats{}, nil, fmt.Errorf("engine: %w", err)
		}
		defer session.Close()
		d = session
	}
	var traced []int
	for b, j := range batch {
		if j.req.Trace {
			traced = append(traced, b)
		}
	}
	var t *tracer
	if traced != nil {
		t = newTracer(d, e.cfg.MaskTokenID, p.Steps, traced)
		d = t
	}
	last, forwards := time.Now(), 0
	onStep := func(st sampler.Step) error {
		stepped()
		if e.o.Observer != nil {
			now := time.Now()
			e.o.Observer.Step(now.Sub(last), st.Forwards-forwards)
			last, forwards = now, st.Forwards
		}
		for b, j := range batch {
			if j.req.OnUpdate != nil && j.ctx.Err() == nil {
				j.req.OnUpdate(Update{Step: st.Index, Response: slices.Clone(st.Canvas[b][st.PromptLen:])})
			}
		}
		return nil
	}
	var res *sampler.Result
	var err error
	if e.cfg.Family == weights.FamilyLLaDA {
		res, err = sampler.LLaDA(ctx, d, prompts, e.lladaOptions(p, seeds), onStep)
	} else {
		res, err = sampler.Dream(ctx, d, prompts, e.dreamOptions(p, seeds), onStep)
	}
	if err != nil {
		return nil, model.Stats{}, nil, fmt.Errorf("engine: %w", err)
	}
	stats := exact.stats
	if session != nil {
		stats = session.Stats()
	}
	probes := make([][]Probe, len(batch))
	if t != nil {
		for k, b := range traced {
			probes[b] = t.probes[k]
		}
	}
	return res, stats, probes, nil
}

// padID is the token that left-pads shorter prompts: the checkpoint's, else EOS.
func (e *Engine) padID() int {
	if e.cfg.PadTokenID >= 0 {
		return e.cfg.PadTokenID
	}
	return e.cfg.EOSTokenID
}

// lladaOptions are p's LLaDA sampler options, with a seed per row when seeds is set.
func (e *Engine) lladaOptions(p Params, seeds []uint64) sampler.LLaDAOptions {
	block := p.BlockLength
	if block == 0 {
		block = p.GenLength
	}
	return sampler.LLaDAOptions{Steps: p.Steps, GenLength: p.GenLength, BlockLength: block,
		Temperature: p.Temperature, Remasking: p.Remasking, Threshold: p.Threshold,
		MaskID: e.cfg.MaskTokenID, PadID: e.padID(), EOSID: e.cfg.EOSTokenID, EoTID: e.o.EoTID,
		Seed: p.Seed, Seeds: seeds}
}

// dreamOptions are p's Dream sampler options, with a seed per row when seeds is set.
func (e *Engine) dreamOptions(p Params, seeds []uint64) sampler.DreamOptions {
	return sampler.DreamOptions{Steps: p.Steps, MaxNewTokens: p.GenLength, Eps: p.Eps,
		Temperature: p.Temperature, TopP: p.TopP, TopK: p.TopK, Algorithm: p.Algorithm,
		AlgTemp: p.AlgTemp, Threshold: p.Threshold, MaskID: e.cfg.MaskTokenID, PadID: e.padID(),
		Seed: p.Seed, Seeds: seeds}
}

// exactCounter is the exact path as a denoiser: it passes each forward pass to the model and
// counts its FLOPs, so a batch run without the cache reports what it spent as a cached one does
// (nothing saved, FLOPs equal to the exact path's).
type exactCounter struct {
	m     *model.Model
	stats model.Stats
}

func (c *exactCounter) Vocab() int { return c.m.Vocab() }

func (c *exactCounter) Logits(ctx context.Context, canvas [][]int, pad []int, from, to int) ([][]float32, error) {
	out, err := c.m.Logits(ctx, canvas, pad, from, to)
	if err == nil && len(canvas) > 0 {
		a, rows, seqLen := c.m.Arch(), int64(len(canvas)), len(canvas[0])
		f := rows * a.ExactFLOPs(seqLen, to-from)
		c.stats.Forwards++
		c.stats.FLOPs += f
		c.stats.ExactFLOPs += f
		c.stats.ReferenceFLOPs += rows * a.FLOPs(seqLen)
	}
	return out, err
}
