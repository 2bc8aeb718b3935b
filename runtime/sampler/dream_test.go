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
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dreamOpts returns valid options; mods adjust them.
func dreamOpts(steps, maxNew int, alg Algorithm, mods ...func(*DreamOptions)) DreamOptions {
	o := DreamOptions{Steps: steps, MaxNewTokens: maxNew, Eps: 1e-3, Algorithm: alg, MaskID: testMask, PadID: testPad}
	for _, m := range mods {
		m(&o)
	}
	return o
}

var rankedAlgorithms = []Algorithm{MaskGITPlus, TopKMargin, Entropy}

func TestDreamSchedule(t *testing.T) {
	// steps = max_new_tokens = 4: the counts are int(4·0.24975) = 0, int(4·0.33289) = 1,
	// int(3·0.49900) = 1, then the remaining 2 (see TestDreamTransferCount). leftFirst ranks
	// positions left to right under every algorithm (a higher peak is a higher probability, a
	// larger margin and a lower entropy).
	prompts := [][]int{{1, 2}, {3, 4}}
	for _, alg := range rankedAlgorithms {
		t.Run(alg.String(), func(t *testing.T) {
			var tr trace
			res, err := Dream(context.Background(), leftFirst(), prompts, dreamOpts(4, 4, alg), tr.onStep)
			if err != nil {
				t.Fatalf("Dream: %v", err)
			}
			checkTrace(t, &tr, res, prompts, testMask)
			for b := range prompts {
				if diff := cmp.Diff([]int{0, 1, 1, 2}, tr.counts(b)); diff != "" {
					t.Errorf("row %d per-step counts (-want +got):\n%s", b, diff)
				}
			}
			var order []int
			for _, st := range tr.steps {
				order = append(order, st.Positions[0]...)
			}
			if want := []int{2, 3, 4, 5}; !slices.Equal(order, want) {
				t.Errorf("commit order %v, want %v", order, want)
			}
			if want := []int{2, 3, 4, 0}; !slices.Equal(res.Generated[1], want) {
				t.Errorf("Generated[1] = %v, want %v", res.Generated[1], want)
			}
			if res.Steps != 4 || res.Forwards != 4 {
				t.Errorf("Steps, Forwards = %d, %d, want 4, 4", res.Steps, res.Forwards)
			}
		})
	}
}

// probLogits returns logits ln(p) for the given distributions per response position (index
// from the first response position, at 2); other positions and missing ids get −inf.
func probLogits(dists [][]float64) *fakeDenoiser {
	return &fakeDenoiser{vocab: testVocab, fn: func(_ [][]int, _, p int, out []float32) {
		for v := range out {
			out[v] = float32(math.Inf(-1))
		}
		if p < 2 || p-2 >= len(dists) {
			out[0] = 0
			return
		}
		for v, q := range dists[p-2] {
			out[v] = float32(math.Log(q))
		}
	}}
}

// Three distributions whose ranking differs per algorithm:
//
//	             p[x0]   p1 − p2   Σ p·log p
//	x: .6 .2 .2  0.6     0.4       −0.950
//	y: .55 .05625×8  0.55  0.49375  −1.624
//	w: .58 .42   0.58    0.16      −0.680
var (
	distX = []float64{0.6, 0.2, 0.2}
	distY = []float64{0.55, 0.05625, 0.05625, 0.05625, 0.05625, 0.05625, 0.05625, 0.05625, 0.05625}
	distW = []float64{0.58, 0.42}
)

func TestDreamAlgorithmsRankDifferently(t *testing.T) {
	// Steps 2 over 3 positions: step 0 commits int(3·0.4995) = 1 position, the most confident.
	tests := []struct {
		alg       Algorithm
		wantFirst int
	}{
		{alg: MaskGITPlus, wantFirst: 2}, // x
		{alg: TopKMargin, wantFirst: 3},  // y
		{alg: Entropy, wantFirst: 4},     // w
	}
	for _, tc := range tests {
		t.Run(tc.alg.String(), func(t *testing.T) {
			var tr trace
			prompts := [][]int{{1, 1}}
			res, err := Dream(context.Background(), probLogits([][]float64{distX, distY, distW}), prompts, dreamOpts(2, 3, tc.alg), tr.onStep)
			if err != nil {
				t.Fatalf("Dream: %v", err)
			}
			checkTrace(t, &tr, res, prompts, testMask)
			if got := tr.steps[0].Positions[0]; !slices.Equal(got, []int{tc.wantFirst}) {
				t.Errorf("step 0 committed %v, want [%d]", got, tc.wantFirst)
			}
			if want := []int{0, 0, 0}; !slices.Equal(res.Generated[0], want) {
				t.Errorf("Generated = %v, want %v", res.Generated[0], want)
			}
		})
	}
}

func TestDreamOrigin(t *testing.T) {
	prompts := [][]int{{1, 2}, {3}}
	run := func(seed uint64) (*Result, *trace) {
		var tr trace
		res, err := Dream(context.Background(), leftFirst(), prompts, dreamOpts(5, 12, Origin, func(o *DreamOptions) { o.Seed = seed }), tr.onStep)
		if err != nil {
			t.Fatalf("Dream: %v", err)
		}
		checkTrace(t, &tr, res, prompts, testMask)
		return res, &tr
	}
	a, trA := run(1)
	b, trB := run(1)
	_, trC := run(2)
	if !cmp.Equal(a.Canvas, b.Canvas) || !cmp.Equal(trA.counts(0), trB.counts(0)) {
		t.Errorf("same seed, different runs")
	}
	if cmp.Equal(trA.counts(0), trC.counts(0)) && cmp.Equal(trA.counts(1), trC.counts(1)) {
		t.Errorf("seeds 1 and 2 commit the same counts %v, want a different draw", trA.counts(0))
	}
	// At temperature 0 every committed token is the argmax, whatever the order.
	for b, g := range a.Generated {
		for i, tok := range g {
			if want := tokOf(a.PromptLen + i); tok != want {
				t.Errorf("row %d response %d = %d, want %d", b, i, tok, want)
			}
		}
	}
	if a.Steps != 5 || a.Forwards != 5 {
		t.Errorf("Steps, Forwards = %d, %d, want 5, 5", a.Steps, a.Forwards)
	}
}

func TestDreamSampling(t *testing.T) {
	prompts := [][]int{{1, 2}, {3, 4, 5}}
	tests := []struct {
		name   string
		alg    Algorithm
		mod    func(*DreamOptions)
		random bool
	}{
		{name: "greedy", alg: MaskGITPlus, mod: func(*DreamOptions) {}},
		{name: "temperature", alg: MaskGITPlus, mod: func(o *DreamOptions) { o.Temperature = 1 }, random: true},
		{name: "temperature top-p top-k", alg: Entropy, random: true, mod: func(o *DreamOptions) {
			o.Temperature, o.TopP, o.TopK = 0.5, 0.9, 20
		}},
		{name: "alg-temp", alg: TopKMargin, mod: func(o *DreamOptions) { o.AlgTemp = 0.5 }, random: true},
		{name: "origin temperature", alg: Origin, mod: func(o *DreamOptions) { o.Temperature = 0.2 }, random: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := func(seed uint64) *Result {
				var tr trace
				o := dreamOpts(6, 10, tc.alg, tc.mod, func(o *DreamOptions) { o.Seed, o.MaskID, o.PadID = seed, 49, 0 })
				res, err := Dream(context.Background(), randomLogits(50, 11, 3), prompts, o, tr.onStep)
				if err != nil {
					t.Fatalf("Dream: %v", err)
				}
				checkTrace(t, &tr, res, prompts, 49)
				return res
			}
			a, b, c := run(1), run(1), run(2)
			if diff := cmp.Diff(a.Canvas, b.Canvas); diff != "" {
				t.Errorf("same seed, different canvases (-first +second):\n%s", diff)
			}
			if same := cmp.Equal(a.Canvas, c.Canvas); same == tc.random {
				t.Errorf("seeds 1 and 2 give equal canvases: %v, want %v", same, !tc.random)
			}
		})
	}
}

func TestDreamFiltersForceArgmax(t *testing.T) {
	// top-k 1, or a top-p below the largest probability, leaves one token: sampling at any
	// temperature returns the argmax.
	for _, mod := range []func(*DreamOptions){
		func(o *DreamOptions) { o.TopK = 1 },
		func(o *DreamOptions) { o.TopP = 0.05 },
	} {
		d := &fakeDenoiser{vocab: testVocab, fn: peaked(tokOf, func(int) float32 { return 0.5 })}
		o := dreamOpts(3, 6, MaskGITPlus, mod, func(o *DreamOptions) { o.Temperature, o.Seed = 2, 9 })
		res, err := Dream(context.Background(), d, [][]int{{1}}, o, nil)
		if err != nil {
			t.Fatalf("Dream: %v", err)
		}
		if want := []int{1, 2, 3, 4, 0, 1}; !slices.Equal(res.Generated[0], want) {
			t.Errorf("TopK %d TopP %v: Generated = %v, want %v", o.TopK, o.TopP, res.Generated[0], want)
		}
	}
}

func TestDreamThreshold(t *testing.T) {
	confident := &fakeDenoiser{vocab: testVocab, fn: peaked(tokOf, func(int) float32 { return 20 })}
	unsure := &fakeDenoiser{vocab: testVocab, fn: peaked(tokOf, func(p int) float32 { return 1 - 0.01*float32(p) })}
	tests := []struct {
		name       string
		d          *fakeDenoiser
		alg        Algorithm
		wantCounts []int
	}{
		{name: "confident maskgit_plus", d: confident, alg: MaskGITPlus, wantCounts: []int{5}},
		{name: "confident topk_margin", d: confident, alg: TopKMargin, wantCounts: []int{5}},
		{name: "confident entropy", d: confident, alg: Entropy, wantCounts: []int{5}},
		{name: "unsure: one per step, the rest on the last", d: unsure, alg: MaskGITPlus, wantCounts: []int{1, 1, 3}},
		{name: "unsure entropy", d: unsure, alg: Entropy, wantCounts: []int{1, 1, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tr trace
			prompts := [][]int{{1}}
			res, err := Dream(context.Background(), tc.d, prompts, dreamOpts(3, 5, tc.alg, func(o *DreamOptions) { o.Threshold = 0.9 }), tr.onStep)
			if err != nil {
				t.Fatalf("Dream: %v", err)
			}
			checkTrace(t, &tr, res, prompts, testMask)
			if diff := cmp.Diff(tc.wantCounts, tr.counts(0)); diff != "" {
				t.Errorf("per-step counts (-want +got):\n%s", diff)
			}
			if res.Steps != len(tc.wantCounts) || res.Forwards != res.Steps {
				t.Errorf("Steps, Forwards = %d, %d, want %d", res.Steps, res.Forwards, len(tc.wantCounts))
			}
		})
	}
}

func TestDreamPadding(t *testing.T) {
	prompts := [][]int{{1}, {2, 3, 4}}
	d := leftFirst()
	var tr trace
	res, err := Dream(context.Background(), d, prompts, dreamOpts(2, 3, MaskGITPlus), tr.onStep)
	if err != nil {
		t.Fatalf("Dream: %v", err)
	}
	checkTrace(t, &tr, res, prompts, testMask)
	for i, call := range d.calls {
		if want := []int{2, 0}; !slices.Equal(call.pad, want) {
			t.Errorf("call %d: pad = %v, want %v", i, call.pad, want)
		}
	}
	want := [][]int{{testPad, testPad, 1, 3, 4, 0}, {2, 3, 4, 3, 4, 0}}
	if diff := cmp.Diff(want, res.Canvas); diff != "" {
		t.Errorf("Canvas (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]int{{3, 4, 0}, {3, 4, 0}}, res.Generated); diff != "" {
		t.Errorf("Generated (-want +got):\n%s", diff)
	}
}

func TestDreamAbort(t *testing.T) {
	t.Run("callback error", func(t *testing.T) {
		d := leftFirst()
		_, err := Dream(context.Background(), d, [][]int{{1}}, dreamOpts(4, 4, MaskGITPlus), func(st Step) error {
			if st.Index == 2 {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) || !strings.Contains(err.Error(), "dream step 2: step callback") {
			t.Fatalf("Dream error = %v, want errStop wrapped with the step", err)
		}
		if len(d.calls) != 3 {
			t.Errorf("Logits ran %d times, want 3", len(d.calls))
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		d := leftFirst()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := Dream(ctx, d, [][]int{{1}}, dreamOpts(4, 4, Origin), func(Step) error {
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Dream error = %v, want context.Canceled", err)
		}
		if len(d.calls) != 1 {
			t.Errorf("Logits ran %d times, want 1", len(d.calls))
		}
	})
	t.Run("canceled before the start", func(t *testing.T) {
		d := leftFirst()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Dream(ctx, d, [][]int{{1}}, dreamOpts(4, 4, Origin), nil); !errors.Is(err, context.Canceled) || len(d.calls) != 0 {
			t.Fatalf("Dream error = %v after %d calls, want context.Canceled after 0", err, len(d.calls))
		}
	})
}

func TestDreamInvalid(t *testing.T) {
	tests := []struct {
		name string
		o    DreamOptions
		want string
	}{
		{name: "steps", o: dreamOpts(0, 4, Origin), want: "steps must be positive"},
		{name: "max-new-tokens", o: dreamOpts(4, -1, Origin), want: "max-new-tokens must be positive"},
		{name: "eps", o: dreamOpts(4, 4, Origin, func(o *DreamOptions) { o.Eps = 1 }), want: "eps must be in [0, 1)"},
		{name: "alg", o: dreamOpts(4, 4, Algorithm(9)), want: "alg 9"},
		{name: "temperature", o: dreamOpts(4, 4, Origin, func(o *DreamOptions) { o.Temperature = -0.1 }), want: "temperature"},
		{name: "top-p", o: dreamOpts(4, 4, Origin, func(o *DreamOptions) { o.TopP = 1.1 }), want: "top-p"},
		{name: "top-k", o: dreamOpts(4, 4, Origin, func(o *DreamOptions) { o.TopK = -1 }), want: "top-k"},
		{name: "alg-temp", o: dreamOpts(4, 4, Entropy, func(o *DreamOptions) { o.AlgTemp = math.NaN() }), want: "alg-temp"},
		{name: "threshold with origin", o: dreamOpts(4, 4, Origin, func(o *DreamOptions) { o.Threshold = 0.9 }), want: "threshold 0.9 is not supported with alg origin"},
		{name: "threshold range", o: dreamOpts(4, 4, Entropy, func(o *DreamOptions) { o.Threshold = -1 }), want: "threshold must be in [0, 1]"},
		{name: "pad-id", o: dreamOpts(4, 4, Origin, func(o *DreamOptions) { o.PadID = -3 }), want: "pad-id"},
		{name: "pad-id outside vocab", o: dreamOpts(4, 4, Origin, func(o *DreamOptions) { o.PadID = 10 }), want: "pad-id 10 is outside"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Dream(context.Background(), leftFirst(), [][]int{{1}}, tc.o, nil)
			if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Dream error = %v, want ErrInvalidInput mentioning %q", err, tc.want)
			}
		})
	}
	// Validate reports every problem at once.
	o := DreamOptions{Steps: -1, MaxNewTokens: 0, TopK: -2}
	err := o.Validate()
	for _, field := range []string{"steps", "max-new-tokens", "top-k"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate() = %v, want it to name %s", err, field)
		}
	}
}
