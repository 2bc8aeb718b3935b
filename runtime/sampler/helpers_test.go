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
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// fakeDenoiser computes logits with fn, a function of the whole canvas, the row and the
// position, and records every call.
type fakeDenoiser struct {
	vocab int
	// fn writes the logits of position p of row b into out (len vocab, zeroed).
	fn func(canvas [][]int, b, p int, out []float32)
	// err, if set, is returned by the call with index errAt.
	err   error
	errAt int

	calls []fakeCall
}

// fakeCall is one recorded Logits call.
type fakeCall struct {
	canvas   [][]int
	pad      []int
	from, to int
}

func (f *fakeDenoiser) Vocab() int { return f.vocab }

func (f *fakeDenoiser) Logits(_ context.Context, canvas [][]int, pad []int, from, to int) ([][]float32, error) {
	call := fakeCall{canvas: make([][]int, len(canvas)), pad: slices.Clone(pad), from: from, to: to}
	for b, row := range canvas {
		call.canvas[b] = slices.Clone(row)
	}
	f.calls = append(f.calls, call)
	if f.err != nil && len(f.calls)-1 == f.errAt {
		return nil, f.err
	}
	out := make([][]float32, len(canvas))
	for b := range canvas {
		out[b] = make([]float32, (to-from)*f.vocab)
		for p := from; p < to; p++ {
			f.fn(canvas, b, p, out[b][(p-from)*f.vocab:(p-from+1)*f.vocab])
		}
	}
	return out, nil
}

// peaked returns logits that predict tok(p) at every position p with logit strength(p) and 0
// for every other token: the higher the strength, the higher the confidence.
func peaked(tok func(p int) int, strength func(p int) float32) func([][]int, int, int, []float32) {
	return func(_ [][]int, _, p int, out []float32) {
		out[tok(p)] = strength(p)
	}
}

// randomLogits returns a denoiser with uniform random logits in [-scale, scale), the same for
// the same call index, row and position.
func randomLogits(vocab int, seed uint64, scale float32) *fakeDenoiser {
	f := &fakeDenoiser{vocab: vocab}
	f.fn = func(_ [][]int, b, p int, out []float32) {
		rng := rand.New(rand.NewPCG(seed^uint64(len(f.calls))<<32, uint64(b)<<32|uint64(p)))
		for v := range out {
			out[v] = scale * (2*rng.Float32() - 1)
		}
	}
	return f
}

// trace records every step passed to the callback, deep-copying the canvas.
type trace struct {
	steps    []Step
	canvases [][][]int
}

func (tr *trace) onStep(st Step) error {
	c := make([][]int, len(st.Canvas))
	for b, row := range st.Canvas {
		c[b] = slices.Clone(row)
	}
	st.Canvas = nil
	tr.steps = append(tr.steps, st)
	tr.canvases = append(tr.canvases, c)
	return nil
}

// counts returns, per step, the number of positions committed in row b.
func (tr *trace) counts(b int) []int {
	n := make([]int, 0, len(tr.steps))
	for _, st := range tr.steps {
		n = append(n, len(st.Positions[b]))
	}
	return n
}

// checkTrace checks the invariants every run must keep: committed tokens and the prompt never
// change, a step writes exactly the positions it reports, and the final canvas has no mask.
func checkTrace(t *testing.T, tr *trace, res *Result, prompts [][]int, maskID int) {
	t.Helper()
	prev := initialCanvas(res, prompts, maskID)
	for i, c := range tr.canvases {
		st := tr.steps[i]
		for b := range c {
			written := map[int]int{}
			for j, p := range st.Positions[b] {
				written[p] = st.Tokens[b][j]
				if prev[b][p] != maskID {
					t.Fatalf("step %d row %d: position %d committed again (was %d)", i, b, p, prev[b][p])
				}
				if p < res.PromptLen {
					t.Fatalf("step %d row %d: prompt position %d committed", i, b, p)
				}
			}
			for p, tok := range c[b] {
				want := prev[b][p]
				if w, ok := written[p]; ok {
					want = w
				}
				if tok != want {
					t.Fatalf("step %d row %d position %d = %d, want %d", i, b, p, tok, want)
				}
			}
		}
		prev = c
	}
	for b, row := range res.Canvas {
		if !slices.Equal(row[res.Pad[b]:res.PromptLen], prompts[b]) {
			t.Errorf("row %d prompt = %v, want %v", b, row[res.Pad[b]:res.PromptLen], prompts[b])
		}
		if slices.Contains(res.Generated[b], maskID) {
			t.Errorf("row %d response %v still holds the mask id %d", b, res.Generated[b], maskID)
		}
	}
	if len(tr.steps) != res.Steps {
		t.Errorf("callback ran %d times, Result.Steps = %d", len(tr.steps), res.Steps)
	}
}

// initialCanvas rebuilds the canvas before the first step.
func initialCanvas(res *Result, prompts [][]int, maskID int) [][]int {
	c := make([][]int, len(res.Canvas))
	for b, row := range res.Canvas {
		c[b] = slices.Clone(row)
		for p := res.PromptLen; p < len(row); p++ {
			c[b][p] = maskID
		}
		copy(c[b][res.Pad[b]:], prompts[b])
	}
	return c
}

var errStop = errors.New("stop here")
