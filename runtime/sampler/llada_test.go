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

// Ids of the small test vocabulary: 0-5 ordinary tokens, then the special ones.
const (
	testVocab = 10
	testEoT   = 6
	testEOS   = 7
	testPad   = 8
	testMask  = 9
)

// lladaOpts returns valid options; mods adjust them.
func lladaOpts(steps, genLen, blockLen int, mods ...func(*LLaDAOptions)) LLaDAOptions {
	o := LLaDAOptions{
		Steps: steps, GenLength: genLen, BlockLength: blockLen,
		MaskID: testMask, PadID: testPad, EOSID: testEOS, EoTID: testEoT,
	}
	for _, m := range mods {
		m(&o)
	}
	return o
}

func tokOf(p int) int { return p % 5 }

// leftFirst is confident in tokOf(p), less so the further right p is.
func leftFirst() *fakeDenoiser {
	return &fakeDenoiser{vocab: testVocab, fn: peaked(tokOf, func(p int) float32 { return 10 - 0.5*float32(p) })}
}

// rightFirst is confident in tokOf(p), more so the further right p is.
func rightFirst() *fakeDenoiser {
	return &fakeDenoiser{vocab: testVocab, fn: peaked(tokOf, func(p int) float32 { return 1 + 0.5*float32(p) })}
}

func TestLLaDATrajectory(t *testing.T) {
	prompt := [][]int{{1, 2}} // P = 2: the response starts at position 2
	tests := []struct {
		name                  string
		d                     *fakeDenoiser
		steps, genLen, blkLen int
		wantCounts            []int
		wantPositions         [][]int // row 0, per step
	}{
		{
			name: "two blocks, remainder first", d: leftFirst(), steps: 6, genLen: 8, blkLen: 4,
			wantCounts:    []int{2, 1, 1, 2, 1, 1},
			wantPositions: [][]int{{2, 3}, {4}, {5}, {6, 7}, {8}, {9}},
		},
		{
			name: "right to left inside each block", d: rightFirst(), steps: 6, genLen: 8, blkLen: 4,
			wantCounts:    []int{2, 1, 1, 2, 1, 1},
			wantPositions: [][]int{{4, 5}, {3}, {2}, {8, 9}, {7}, {6}},
		},
		{
			name: "more steps than masks per block", d: leftFirst(), steps: 8, genLen: 4, blkLen: 2,
			wantCounts:    []int{1, 1, 0, 0, 1, 1, 0, 0},
			wantPositions: [][]int{{2}, {3}, {}, {}, {4}, {5}, {}, {}},
		},
		{
			name: "one block", d: rightFirst(), steps: 4, genLen: 6, blkLen: 6,
			wantCounts:    []int{2, 2, 1, 1},
			wantPositions: [][]int{{6, 7}, {4, 5}, {3}, {2}},
		},
		{
			name: "one token per step", d: leftFirst(), steps: 3, genLen: 3, blkLen: 3,
			wantCounts:    []int{1, 1, 1},
			wantPositions: [][]int{{2}, {3}, {4}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tr trace
			res, err := LLaDA(context.Background(), tc.d, prompt, lladaOpts(tc.steps, tc.genLen, tc.blkLen), tr.onStep)
			if err != nil {
				t.Fatalf("LLaDA: %v", err)
			}
			checkTrace(t, &tr, res, prompt, testMask)
			if diff := cmp.Diff(tc.wantCounts, tr.counts(0)); diff != "" {
				t.Errorf("per-step counts (-want +got):\n%s", diff)
			}
			gotPos := make([][]int, 0, len(tr.steps))
			for i, st := range tr.steps {
				gotPos = append(gotPos, st.Positions[0])
				lo := 2 + st.Block*tc.blkLen
				for _, p := range st.Positions[0] {
					if p < lo || p >= lo+tc.blkLen {
						t.Errorf("step %d (block %d) committed position %d outside [%d, %d)", i, st.Block, p, lo, lo+tc.blkLen)
					}
				}
				if st.Index != i || st.Forwards != i+1 || st.PromptLen != 2 {
					t.Errorf("step %d: Index %d Forwards %d PromptLen %d, want %d %d 2", i, st.Index, st.Forwards, st.PromptLen, i, i+1)
				}
			}
			if diff := cmp.Diff(tc.wantPositions, gotPos, cmpEmptyEqualsNil); diff != "" {
				t.Errorf("committed positions (-want +got):\n%s", diff)
			}
			var want []int
			for p := 2; p < 2+tc.genLen; p++ {
				want = append(want, tokOf(p))
			}
			if diff := cmp.Diff(want, res.Generated[0]); diff != "" {
				t.Errorf("Generated (-want +got):\n%s", diff)
			}
			if res.Steps != tc.steps || res.Forwards != tc.steps {
				t.Errorf("Steps, Forwards = %d, %d, want %d, %d", res.Steps, res.Forwards, tc.steps, tc.steps)
			}
		})
	}
}

var cmpEmptyEqualsNil = cmp.Transformer("nilEmpty", func(s []int) []int {
	if len(s) == 0 {
		return nil
	}
	return s
})

func TestLLaDAFutureBlocksUntouched(t *testing.T) {
	var tr trace
	prompts := [][]int{{1, 2, 3}}
	res, err := LLaDA(context.Background(), randomLogits(testVocab, 1, 3), prompts, lladaOpts(8, 8, 2), tr.onStep)
	if err != nil {
		t.Fatalf("LLaDA: %v", err)
	}
	checkTrace(t, &tr, res, prompts, testMask)
	for i, c := range tr.canvases {
		hi := res.PromptLen + (tr.steps[i].Block+1)*2
		for p := hi; p < len(c[0]); p++ {
			if c[0][p] != testMask {
				t.Fatalf("after step %d (block %d) future position %d = %d, want the mask", i, tr.steps[i].Block, p, c[0][p])
			}
		}
	}
}

func TestLLaDATemperature(t *testing.T) {
	prompts := [][]int{{1, 2}, {3, 4}}
	run := func(t *testing.T, temp float64, seed uint64, remasking Remasking) *Result {
		t.Helper()
		d := randomLogits(50, 7, 2)
		o := LLaDAOptions{Steps: 8, GenLength: 16, BlockLength: 8, Temperature: temp, Seed: seed,
			Remasking: remasking, MaskID: 49, PadID: 0, EOSID: -1, EoTID: -1}
		var tr trace
		res, err := LLaDA(context.Background(), d, prompts, o, tr.onStep)
		if err != nil {
			t.Fatalf("LLaDA: %v", err)
		}
		checkTrace(t, &tr, res, prompts, 49)
		if diff := cmp.Diff([]int{2, 2, 2, 2, 2, 2, 2, 2}, tr.counts(1)); diff != "" {
			t.Errorf("row 1 per-step counts (-want +got):\n%s", diff)
		}
		return res
	}
	tests := []struct {
		name      string
		temp      float64
		remasking Remasking
	}{
		{name: "greedy", temp: 0, remasking: LowConfidence},
		{name: "gumbel", temp: 1, remasking: LowConfidence},
		{name: "random remasking", temp: 0, remasking: Random},
		{name: "gumbel and random remasking", temp: 0.7, remasking: Random},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := run(t, tc.temp, 1, tc.remasking), run(t, tc.temp, 1, tc.remasking)
			if diff := cmp.Diff(a.Canvas, b.Canvas); diff != "" {
				t.Errorf("same seed, different canvases (-first +second):\n%s", diff)
			}
			c := run(t, tc.temp, 2, tc.remasking)
			random := tc.temp > 0 || tc.remasking == Random
			if same := cmp.Equal(a.Canvas, c.Canvas); same == random {
				t.Errorf("seeds 1 and 2 give equal canvases: %v, want %v", same, !random)
			}
		})
	}
}

func TestLLaDAGumbelKeepsConfidentArgmax(t *testing.T) {
	// A gap of 100 in the logits is far beyond Gumbel noise at temperature 1, so sampling
	// still returns the argmax.
	d := &fakeDenoiser{vocab: testVocab, fn: peaked(tokOf, func(int) float32 { return 100 })}
	res, err := LLaDA(context.Background(), d, [][]int{{1}}, lladaOpts(4, 8, 8, func(o *LLaDAOptions) {
		o.Temperature = 1
		o.Seed = 3
	}), nil)
	if err != nil {
		t.Fatalf("LLaDA: %v", err)
	}
	want := []int{1, 2, 3, 4, 0, 1, 2, 3}
	if !slices.Equal(res.Generated[0], want) {
		t.Errorf("Generated = %v, want %v", res.Generated[0], want)
	}
}

func TestGumbelArgmaxDistribution(t *testing.T) {
	// Gumbel-max at temperature τ samples softmax(l/τ). With l = [0, ln 3] and the mask id 2:
	// τ = 1 gives p(1) = 3/4, τ = 0.5 gives 9/10.
	logits := []float32{0, float32(math.Log(3)), 50}
	rng := streams{seed: 1}.at(0, 0, 0)
	for _, tc := range []struct{ tau, want float64 }{{1, 0.75}, {0.5, 0.9}} {
		const n = 20000
		ones := 0
		for range n {
			switch gumbelArgmax(logits, tc.tau, 2, rng) {
			case 1:
				ones++
			case 2:
				t.Fatalf("gumbelArgmax chose the mask id")
			}
		}
		if got := float64(ones) / n; math.Abs(got-tc.want) > 0.015 {
			t.Errorf("τ = %v: p(1) = %.3f, want %.3f", tc.tau, got, tc.want)
		}
	}
}

func TestLLaDARandomRemasking(t *testing.T) {
	// With Random remasking the confidence ignores the logits, so the order differs from
	// left-to-right even though leftFirst is most confident on the left.
	prompts := [][]int{{1}}
	var tr trace
	res, err := LLaDA(context.Background(), leftFirst(), prompts, lladaOpts(4, 8, 8, func(o *LLaDAOptions) {
		o.Remasking = Random
		o.Seed = 5
	}), tr.onStep)
	if err != nil {
		t.Fatalf("LLaDA: %v", err)
	}
	checkTrace(t, &tr, res, prompts, testMask)
	if diff := cmp.Diff([]int{2, 2, 2, 2}, tr.counts(0)); diff != "" {
		t.Errorf("per-step counts (-want +got):\n%s", diff)
	}
	var order []int
	for _, st := range tr.steps {
		order = append(order, st.Positions[0]...)
	}
	if slices.IsSorted(order) {
		t.Errorf("random remasking committed positions in order %v, want a shuffled order", order)
	}
}

func TestLLaDACFG(t *testing.T) {
	// Token 1 leads without guidance (1.2 > 1). The unconditional logits (prompt masked)
	// favour token 1 more, so guidance with s = 1 flips to token 0:
	// 0: 0 + 2·(1 − 0) = 2;  1: 1.5 + 2·(1.2 − 1.5) = 0.9.
	fn := func(canvas [][]int, b, _ int, out []float32) {
		if canvas[b][0] == testMask { // unconditional: the prompt is masked
			out[0], out[1] = 0, 1.5
			return
		}
		out[0], out[1] = 1, 1.2
	}
	prompts := [][]int{{3, 4}, {5}}
	tests := []struct {
		name         string
		scale        float64
		wantTok      int
		wantForwards int
	}{
		{name: "no guidance", scale: 0, wantTok: 1, wantForwards: 4},
		{name: "guidance", scale: 1, wantTok: 0, wantForwards: 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDenoiser{vocab: testVocab, fn: fn}
			res, err := LLaDA(context.Background(), d, prompts, lladaOpts(4, 4, 4, func(o *LLaDAOptions) { o.CFGScale = tc.scale }), nil)
			if err != nil {
				t.Fatalf("LLaDA: %v", err)
			}
			for b, g := range res.Generated {
				if want := []int{tc.wantTok, tc.wantTok, tc.wantTok, tc.wantTok}; !slices.Equal(g, want) {
					t.Errorf("row %d Generated = %v, want %v", b, g, want)
				}
			}
			if res.Forwards != tc.wantForwards || len(d.calls) != tc.wantForwards || res.Steps != 4 {
				t.Errorf("Forwards %d, calls %d, Steps %d; want %d, %d, 4", res.Forwards, len(d.calls), res.Steps, tc.wantForwards, tc.wantForwards)
			}
			if tc.scale == 0 {
				return
			}
			for i := 0; i < len(d.calls); i += 2 {
				cond, un := d.calls[i], d.calls[i+1]
				if !slices.Equal(cond.pad, []int{0, 1}) || !slices.Equal(un.pad, []int{0, 1}) {
					t.Errorf("call %d pads %v and %v, want [0 1]", i, cond.pad, un.pad)
				}
				for b := range cond.canvas {
					wantUn := slices.Concat([]int{testMask, testMask}, cond.canvas[b][2:])
					if !slices.Equal(un.canvas[b], wantUn) {
						t.Errorf("call %d row %d: unconditional canvas %v, want %v", i+1, b, un.canvas[b], wantUn)
					}
				}
			}
		})
	}
}

func TestLLaDAThreshold(t *testing.T) {
	confident := &fakeDenoiser{vocab: testVocab, fn: peaked(tokOf, func(int) float32 { return 20 })}
	// Confidence e^1/(e^1 + 9) ≈ 0.23 everywhere: below any useful threshold.
	unsure := &fakeDenoiser{vocab: testVocab, fn: peaked(tokOf, func(int) float32 { return 1 })}
	// Positions 2 to 4 are sure, the rest is not.
	mixed := &fakeDenoiser{vocab: testVocab, fn: peaked(tokOf, func(p int) float32 {
		if p < 5 {
			return 20
		}
		return 1 - 0.01*float32(p)
	})}
	tests := []struct {
		name       string
		d          *fakeDenoiser
		steps      int
		wantCounts []int
		wantBlocks []int
	}{
		{name: "confident: one step per block", d: confident, steps: 8, wantCounts: []int{4, 4}, wantBlocks: []int{0, 1}},
		{name: "unsure: one per step, the rest on the budget's last step", d: unsure, steps: 6,
			wantCounts: []int{1, 1, 2, 1, 1, 2}, wantBlocks: []int{0, 0, 0, 1, 1, 1}},
		{name: "mixed", d: mixed, steps: 8,
			wantCounts: []int{3, 1, 1, 1, 1, 1}, wantBlocks: []int{0, 0, 1, 1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.d.calls = nil
			prompts := [][]int{{1, 2}}
			var tr trace
			res, err := LLaDA(context.Background(), tc.d, prompts, lladaOpts(tc.steps, 8, 4, func(o *LLaDAOptions) { o.Threshold = 0.9 }), tr.onStep)
			if err != nil {
				t.Fatalf("LLaDA: %v", err)
			}
			checkTrace(t, &tr, res, prompts, testMask)
			if diff := cmp.Diff(tc.wantCounts, tr.counts(0)); diff != "" {
				t.Errorf("per-step counts (-want +got):\n%s", diff)
			}
			blocks := make([]int, 0, len(tr.steps))
			for _, st := range tr.steps {
				blocks = append(blocks, st.Block)
			}
			if diff := cmp.Diff(tc.wantBlocks, blocks); diff != "" {
				t.Errorf("blocks (-want +got):\n%s", diff)
			}
			if res.Steps > tc.steps || res.Forwards != res.Steps {
				t.Errorf("Steps %d, Forwards %d; want at most %d, equal", res.Steps, res.Forwards, tc.steps)
			}
		})
	}
}

func TestLLaDAThresholdNeverExceedsBudget(t *testing.T) {
	for seed := range uint64(20) {
		o := lladaOpts(6, 12, 4, func(o *LLaDAOptions) {
			o.Threshold = 0.5
			o.Temperature = 0.5
			o.Seed = seed
		})
		prompts := [][]int{{1, 2, 3}, {4}}
		var tr trace
		res, err := LLaDA(context.Background(), randomLogits(testVocab, seed, 4), prompts, o, tr.onStep)
		if err != nil {
			t.Fatalf("seed %d: LLaDA: %v", seed, err)
		}
		checkTrace(t, &tr, res, prompts, testMask)
		perBlock := map[int]int{}
		for _, st := range tr.steps {
			perBlock[st.Block]++
		}
		for k, n := range perBlock {
			if n > 2 {
				t.Errorf("seed %d: block %d took %d steps, budget 2", seed, k, n)
			}
		}
	}
}

func TestLLaDAEOSFlags(t *testing.T) {
	// Position 2 predicts EoT (p ≈ 1), position 3 EOS (p ≈ 0.999, or token 1 with p ≈ 0.25
	// when EOS is excluded); the rest predict tokOf(p) with p ≈ 0.94.
	fn := func(_ [][]int, _, p int, out []float32) {
		switch p {
		case 2:
			out[testEoT] = 10
		case 3:
			out[testEOS] = 9
			out[1] = 1
		default:
			out[tokOf(p)] = 5
		}
	}
	tests := []struct {
		name      string
		mod       func(*LLaDAOptions)
		wantFirst int // the position committed in step 0
		wantGen   []int
	}{
		{name: "plain", mod: func(*LLaDAOptions) {}, wantFirst: 2, wantGen: []int{testEoT, testEOS, 4, 0}},
		{name: "logits-eos-inf", mod: func(o *LLaDAOptions) { o.LogitsEOSInf = true }, wantFirst: 2, wantGen: []int{testEoT, 1, 4, 0}},
		{
			// EoT's probability is removed from the confidence softmax: position 2 keeps its
			// EoT prediction but with confidence 0, so it is committed last. EOS is not
			// affected, as in the reference.
			name: "confidence-eos-eot-inf", mod: func(o *LLaDAOptions) { o.ConfidenceEOSEoTInf = true },
			wantFirst: 3, wantGen: []int{testEoT, testEOS, 4, 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tr trace
			res, err := LLaDA(context.Background(), &fakeDenoiser{vocab: testVocab, fn: fn}, [][]int{{1, 1}}, lladaOpts(4, 4, 4, tc.mod), tr.onStep)
			if err != nil {
				t.Fatalf("LLaDA: %v", err)
			}
			if got := tr.steps[0].Positions[0]; !slices.Equal(got, []int{tc.wantFirst}) {
				t.Errorf("step 0 committed %v, want [%d]", got, tc.wantFirst)
			}
			if got := tr.steps[3].Positions[0]; tc.name == "confidence-eos-eot-inf" && !slices.Equal(got, []int{2}) {
				t.Errorf("last step committed %v, want [2]", got)
			}
			if !slices.Equal(res.Generated[0], tc.wantGen) {
				t.Errorf("Generated = %v, want %v", res.Generated[0], tc.wantGen)
			}
		})
	}
}

func TestLLaDANeverPredictsMask(t *testing.T) {
	// The mask column has the highest logit everywhere; the sampler must pick the runner-up.
	d := &fakeDenoiser{vocab: testVocab, fn: func(_ [][]int, _, p int, out []float32) {
		out[testMask] = 50
		out[tokOf(p)] = 40
	}}
	for _, temp := range []float64{0, 1} {
		res, err := LLaDA(context.Background(), d, [][]int{{1}}, lladaOpts(2, 4, 2, func(o *LLaDAOptions) { o.Temperature = temp }), nil)
		if err != nil {
			t.Fatalf("LLaDA: %v", err)
		}
		if want := []int{1, 2, 3, 4}; !slices.Equal(res.Generated[0], want) {
			t.Errorf("temperature %v: Generated = %v, want %v", temp, res.Generated[0], want)
		}
	}
}

func TestLLaDAPadding(t *testing.T) {
	prompts := [][]int{{1, 2, 3}, {4}, {}, {5, 1, 2}}
	d := leftFirst()
	var tr trace
	res, err := LLaDA(context.Background(), d, prompts, lladaOpts(2, 4, 4), tr.onStep)
	if err != nil {
		t.Fatalf("LLaDA: %v", err)
	}
	checkTrace(t, &tr, res, prompts, testMask)
	wantPad := []int{0, 2, 3, 0}
	for i, call := range d.calls {
		if !slices.Equal(call.pad, wantPad) {
			t.Errorf("call %d: pad = %v, want %v", i, call.pad, wantPad)
		}
	}
	wantCanvas := [][]int{
		{1, 2, 3, 3, 4, 0, 1},
		{testPad, testPad, 4, 3, 4, 0, 1},
		{testPad, testPad, testPad, 3, 4, 0, 1},
		{5, 1, 2, 3, 4, 0, 1},
	}
	if diff := cmp.Diff(wantCanvas, res.Canvas); diff != "" {
		t.Errorf("Canvas (-want +got):\n%s", diff)
	}
	if res.PromptLen != 3 || !slices.Equal(res.Pad, wantPad) {
		t.Errorf("PromptLen %d, Pad %v; want 3, %v", res.PromptLen, res.Pad, wantPad)
	}
	// Equal lengths: no padding, pad is nil.
	d = leftFirst()
	if _, err := LLaDA(context.Background(), d, [][]int{{1}, {2}}, lladaOpts(2, 4, 4), nil); err != nil {
		t.Fatalf("LLaDA: %v", err)
	}
	if d.calls[0].pad != nil {
		t.Errorf("equal prompt lengths: pad = %v, want nil", d.calls[0].pad)
	}
}

func TestLLaDAAbort(t *testing.T) {
	t.Run("callback error", func(t *testing.T) {
		d := leftFirst()
		calls := 0
		_, err := LLaDA(context.Background(), d, [][]int{{1}}, lladaOpts(4, 4, 4), func(st Step) error {
			calls++
			if st.Index == 1 {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) {
			t.Fatalf("LLaDA error = %v, want errStop", err)
		}
		if !strings.Contains(err.Error(), "llada step 1") {
			t.Errorf("error %q does not name the step", err)
		}
		if calls != 2 || len(d.calls) != 2 {
			t.Errorf("callback ran %d times, Logits %d times; want 2, 2", calls, len(d.calls))
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		d := leftFirst()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := LLaDA(ctx, d, [][]int{{1}}, lladaOpts(4, 4, 4), func(st Step) error {
			if st.Index == 0 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("LLaDA error = %v, want context.Canceled", err)
		}
		if len(d.calls) != 1 {
			t.Errorf("Logits ran %d times after cancellation at step 0, want 1", len(d.calls))
		}
	})
	t.Run("denoiser error", func(t *testing.T) {
		d := leftFirst()
		d.err, d.errAt = errStop, 2
		_, err := LLaDA(context.Background(), d, [][]int{{1}}, lladaOpts(4, 4, 4), nil)
		if !errors.Is(err, errStop) || !strings.Contains(err.Error(), "llada step 2: denoise") {
			t.Fatalf("LLaDA error = %v, want errStop wrapped with the step", err)
		}
	})
}

// badShape returns logits of the wrong size.
type badShape struct{ rows, perRow int }

func (badShape) Vocab() int { return testVocab }

func (d badShape) Logits(_ context.Context, canvas [][]int, _ []int, _, _ int) ([][]float32, error) {
	out := make([][]float32, min(d.rows, len(canvas)))
	for b := range out {
		out[b] = make([]float32, d.perRow)
	}
	return out, nil
}

func TestLLaDAInvalid(t *testing.T) {
	tests := []struct {
		name    string
		d       Denoiser
		prompts [][]int
		o       LLaDAOptions
		want    string
	}{
		{name: "gen-length", o: lladaOpts(4, 10, 4), want: "gen-length 10 is not a multiple of block-length 4"},
		{name: "steps", o: lladaOpts(3, 8, 4), want: "steps 3 is not a multiple of the number of blocks 2"},
		{name: "zero steps", o: lladaOpts(0, 8, 4), want: "steps must be positive"},
		{name: "zero gen-length", o: lladaOpts(4, 0, 4), want: "gen-length must be positive"},
		{name: "zero block-length", o: lladaOpts(4, 8, 0), want: "block-length must be positive"},
		{name: "temperature", o: lladaOpts(4, 4, 4, func(o *LLaDAOptions) { o.Temperature = -1 }), want: "temperature"},
		{name: "NaN temperature", o: lladaOpts(4, 4, 4, func(o *LLaDAOptions) { o.Temperature = math.NaN() }), want: "temperature"},
		{name: "cfg-scale", o: lladaOpts(4, 4, 4, func(o *LLaDAOptions) { o.CFGScale = math.Inf(1) }), want: "cfg-scale"},
		{name: "remasking", o: lladaOpts(4, 4, 4, func(o *LLaDAOptions) { o.Remasking = 7 }), want: "remasking"},
		{name: "threshold", o: lladaOpts(4, 4, 4, func(o *LLaDAOptions) { o.Threshold = 1.5 }), want: "threshold"},
		{name: "mask-id", o: lladaOpts(4, 4, 4, func(o *LLaDAOptions) { o.MaskID = -1 }), want: "mask-id"},
		{name: "eos-id required", o: lladaOpts(4, 4, 4, func(o *LLaDAOptions) { o.EOSID, o.LogitsEOSInf = -1, true }), want: "eos-id"},
		{name: "mask-id outside vocab", o: lladaOpts(4, 4, 4, func(o *LLaDAOptions) { o.MaskID = 10 }), want: "mask-id 10 is outside"},
		{name: "eot-id outside vocab", o: lladaOpts(4, 4, 4, func(o *LLaDAOptions) { o.EoTID = 99 }), want: "eot-id 99 is outside"},
		{name: "no prompts", prompts: [][]int{}, o: lladaOpts(4, 4, 4), want: "no prompts"},
		{name: "prompt token", prompts: [][]int{{1}, {2, 12}}, o: lladaOpts(4, 4, 4), want: "prompt 1 token 1 is 12"},
		{name: "tiny vocab", d: &fakeDenoiser{vocab: 1}, o: lladaOpts(4, 4, 4, func(o *LLaDAOptions) {
			o.MaskID, o.PadID, o.EOSID, o.EoTID = 0, 0, -1, -1
		}), want: "at least 2 tokens"},
		{name: "logits rows", d: badShape{rows: 0, perRow: 0}, o: lladaOpts(4, 4, 4), want: "returned 0 rows"},
		{name: "logits size", d: badShape{rows: 1, perRow: 3}, o: lladaOpts(4, 4, 4), want: "returned 3 logits for row 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.d == nil {
				tc.d = leftFirst()
			}
			if tc.prompts == nil {
				tc.prompts = [][]int{{1}}
			}
			_, err := LLaDA(context.Background(), tc.d, tc.prompts, tc.o, nil)
			if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LLaDA error = %v, want ErrInvalidInput mentioning %q", err, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, r := range []Remasking{LowConfidence, Random, LowMargin, HighEntropy} {
		got, err := ParseRemasking(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRemasking(%q) = %v, %v, want %v", r.String(), got, err, r)
		}
	}
	for _, a := range []Algorithm{Origin, MaskGITPlus, TopKMargin, Entropy} {
		got, err := ParseAlgorithm(a.String())
		if err != nil || got != a {
			t.Errorf("ParseAlgorithm(%q) = %v, %v, want %v", a.String(), got, err, a)
		}
	}
	if _, err := ParseRemasking("Margin"); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "remasking") {
		t.Errorf("ParseRemasking(Margin) error = %v, want ErrInvalidInput naming remasking", err)
	}
	if _, err := ParseAlgorithm("Origin"); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "alg") {
		t.Errorf("ParseAlgorithm(Origin) error = %v, want ErrInvalidInput naming alg", err)
	}
	if got := Remasking(5).String(); got != "Remasking(5)" {
		t.Errorf("Remasking(5).String() = %q", got)
	}
	if got := Algorithm(-1).String(); got != "Algorithm(-1)" {
		t.Errorf("Algorithm(-1).String() = %q", got)
	}
}

// blockCounter records at which Logits call each block started.
type blockCounter struct {
	*fakeDenoiser
	starts []int
}

func (b *blockCounter) StartBlock() { b.starts = append(b.starts, len(b.calls)) }

func TestLLaDAStartsBlocks(t *testing.T) {
	d := &blockCounter{fakeDenoiser: randomLogits(testVocab, 2, 3)}
	// gen 8 in blocks of 2 with 8 steps: 4 blocks of 2 steps each.
	if _, err := LLaDA(context.Background(), d, [][]int{{1, 2, 3}}, lladaOpts(8, 8, 2), nil); err != nil {
		t.Fatalf("LLaDA: %v", err)
	}
	if want := []int{0, 2, 4, 6}; !slices.Equal(d.starts, want) {
		t.Errorf("blocks started before calls %v, want %v", d.starts, want)
	}
	// Each call asks only for the logits of its block: positions [3+2k, 5+2k).
	for i, c := range d.calls {
		if lo := 3 + 2*(i/2); c.from != lo || c.to != lo+2 {
			t.Errorf("call %d asked for [%d, %d), want [%d, %d)", i, c.from, c.to, lo, lo+2)
		}
	}
}

// guided routes unconditional passes to a denoiser of their own.
type guided struct {
	*fakeDenoiser
	un *fakeDenoiser
}

func (g *guided) Unconditional() Denoiser { return g.un }

// The CFG cache runs the unconditional pass at steps 1-5 and then every CFGInterval steps, and
// reuses the guidance residual in between: with logits that do not change between steps the
// result is the one of an unconditional pass every step.
func TestLLaDACFGCache(t *testing.T) {
	fn := func(canvas [][]int, b, _ int, out []float32) {
		if canvas[b][0] == testMask {
			out[0], out[1] = 0, 1.5
			return
		}
		out[0], out[1] = 1, 1.2
	}
	prompts := [][]int{{3, 4}, {5}}
	every, err := LLaDA(context.Background(), &fakeDenoiser{vocab: testVocab, fn: fn}, prompts,
		lladaOpts(10, 10, 10, func(o *LLaDAOptions) { o.CFGScale = 1 }), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &guided{fakeDenoiser: &fakeDenoiser{vocab: testVocab, fn: fn}, un: &fakeDenoiser{vocab: testVocab, fn: fn}}
	cached, err := LLaDA(context.Background(), d, prompts,
		lladaOpts(10, 10, 10, func(o *LLaDAOptions) { o.CFGScale = 1; o.CFGInterval = 3 }), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Unconditional passes at steps 1, 2, 3, 4, 5, 7 and 10.
	if len(d.calls) != 10 || len(d.un.calls) != 7 || cached.Forwards != 17 {
		t.Errorf("conditional calls %d, unconditional %d, forwards %d; want 10, 7, 17", len(d.calls), len(d.un.calls), cached.Forwards)
	}
	for _, c := range d.un.calls {
		if c.canvas[0][0] != testMask {
			t.Errorf("an unconditional call saw the prompt %v", c.canvas[0])
		}
	}
	for b := range every.Generated {
		if !slices.Equal(cached.Generated[b], every.Generated[b]) {
			t.Errorf("row %d: CFG cache generated %v, every-step guidance %v", b, cached.Generated[b], every.Generated[b])
		}
	}
}

// LowMargin and HighEntropy rank positions by Dream's confidences, which can order two
// positions the other way round from LowConfidence: each case's first committed position
// differs from LowConfidence's.
func TestLLaDAMarginAndEntropyRemasking(t *testing.T) {
	// dist returns logits whose softmax is (approximately) the given probabilities over
	// tokens 0..2 with the rest of the mass spread evenly over the other tokens.
	dist := func(p ...float64) []float32 {
		rest := 1.0
		for _, q := range p {
			rest -= q
		}
		out := make([]float32, testVocab)
		for v := range out {
			q := max(rest/float64(testVocab-len(p)), 1e-12)
			if v < len(p) {
				q = p[v]
			}
			out[v] = float32(math.Log(q))
		}
		return out
	}
	for _, tc := range []struct {
		remasking  Remasking
		pos1, pos2 []float32 // logits of response positions 1 and 2
		first      int       // the position the remasking commits first
	}{
		// Position 2 is more probable (0.55 > 0.5) but its runner-up is close.
		{LowConfidence, dist(0.5), dist(0.55, 0.45), 2},
		{LowMargin, dist(0.5), dist(0.55, 0.45), 1},
		// Position 2 is more probable (0.6 > 0.5) but spreads the rest widely.
		{LowConfidence, dist(0.5, 0.5), dist(0.6), 2},
		{HighEntropy, dist(0.5, 0.5), dist(0.6), 1},
	} {
		d := &fakeDenoiser{vocab: testVocab, fn: func(_ [][]int, _, p int, out []float32) {
			switch p {
			case 1:
				copy(out, tc.pos1)
			case 2:
				copy(out, tc.pos2)
			}
		}}
		var tr trace
		_, err := LLaDA(context.Background(), d, [][]int{{1}}, lladaOpts(2, 2, 2, func(o *LLaDAOptions) {
			o.Remasking = tc.remasking
		}), tr.onStep)
		if err != nil {
			t.Fatalf("%v: %v", tc.remasking, err)
		}
		if got := tr.steps[0].Positions[0]; len(got) != 1 || got[0] != tc.first {
			t.Errorf("%v committed %v first, want position %d", tc.remasking, got, tc.first)
		}
	}
}
