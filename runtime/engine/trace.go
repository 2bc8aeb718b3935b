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

	"dllm.dev/dllm-operator/runtime/sampler"
)

// traceSamples is the most forward passes a traced request records: enough to see how the
// cache's predictions drift within its refresh intervals, few enough that checking them costs
// a handful of exact passes against the hundreds a full uncached generation takes.
const traceSamples = 4

// Probe is what a traced request's served forward pass predicted at one sampled pass: the
// request's canvas (prompt and response, no padding) and, at each masked response position,
// the most likely token. Engine.Check compares it with the exact path's prediction on the
// same canvas.
type Probe struct {
	// Pass is the forward pass's index in the run, from 0.
	Pass int
	// Canvas is the row the pass saw.
	Canvas []int
	// Positions are the masked positions of Canvas the pass predicted; Top1 their most likely
	// tokens.
	Positions, Top1 []int
}

// tracer is a Denoiser that records Probes of some of its batch's rows at evenly spaced
// passes.
type tracer struct {
	sampler.Denoiser
	maskID int
	rows   []int     // batch rows to trace
	probes [][]Probe // by entry of rows
	every  int       // trace passes every, every/2, 3·every/2, …
	passes int
}

// newTracer traces rows of a run of steps denoising steps on d.
func newTracer(d sampler.Denoiser, maskID, steps int, rows []int) *tracer {
	return &tracer{Denoiser: d, maskID: maskID, rows: rows, probes: make([][]Probe, len(rows)),
		every: max(1, steps/traceSamples)}
}

// StartBlock passes LLaDA's block starts on to a denoiser that wants them.
func (t *tracer) StartBlock() {
	if b, ok := t.Denoiser.(sampler.BlockStarter); ok {
		b.StartBlock()
	}
}

// Logits runs the wrapped denoiser and records its top-1 predictions at sampled passes.
func (t *tracer) Logits(ctx context.Context, canvas [][]int, pad []int, from, to int) ([][]float32, error) {
	logits, err := t.Denoiser.Logits(ctx, canvas, pad, from, to)
	pass := t.passes
	t.passes++
	if err != nil || pass%t.every != t.every/2 {
		return logits, err
	}
	v := t.Vocab()
	for k, b := range t.rows {
		if len(t.probes[k]) == traceSamples {
			continue
		}
		skip := 0
		if pad != nil {
			skip = pad[b]
		}
		p := Probe{Pass: pass, Canvas: slices.Clone(canvas[b][skip:])}
		for i := from; i < to; i++ {
			if canvas[b][i] == t.maskID {
				p.Positions = append(p.Positions, i-skip)
				p.Top1 = append(p.Top1, argmax(logits[b][(i-from)*v:(i-from+1)*v]))
			}
		}
		if len(p.Positions) > 0 {
			t.probes[k] = append(t.probes[k], p)
		}
	}
	return logits, nil
}

// argmax is the index of x's first largest value.
func argmax(x []float32) int {
	best := 0
	for i, f := range x {
		if f > x[best] {
			best = i
		}
	}
	return best
}

// Check runs the exact path on every probe's canvas and returns how many of their predictions
// it compared and how many equal its own top-1. It runs outside the queue, on the caller's
// goroutine: callers that want it at low priority run it when Load shows nothing queued.
func (e *Engine) Check(ctx context.Context, probes []Probe) (compared, agreed int, err error) {
	v := e.m.Vocab()
	for _, p := range probes {
		if len(p.Positions) == 0 {
			continue
		}
		lo, hi := slices.Min(p.Positions), slices.Max(p.Positions)+1
		if lo < 0 || hi > len(p.Canvas) || len(p.Top1) != len(p.Positions) {
			return compared, agreed, fmt.Errorf("%w: probe of pass %d has positions outside its canvas", ErrInvalid, p.Pass)
		}
		logits, err := e.m.Logits(ctx, [][]int{p.Canvas}, nil, lo, hi)
		if err != nil {
			return compared, agreed, fmt.Errorf("engine: check pass %d: %w", p.Pass, err)
		}
		for k, i := range p.Positions {
			compared++
			if argmax(logits[0][(i-lo)*v:(i-lo+1)*v]) == p.Top1[k] {
				agreed++
			}
		}
	}
	return compared, agreed, nil
}
