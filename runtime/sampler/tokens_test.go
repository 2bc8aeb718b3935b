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
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func logitsOf(probs ...float64) []float32 {
	l := make([]float32, len(probs))
	for i, p := range probs {
		l[i] = float32(math.Log(p))
	}
	return l
}

func TestSampleConfidence(t *testing.T) {
	pad := func(p []float64) []float32 { // to the test vocabulary; the mask id gets p = 0
		return logitsOf(append(slices.Clone(p), make([]float64, testVocab-len(p))...)...)
	}
	tests := []struct {
		name    string
		alg     Algorithm
		logits  []float32
		wantTok int
		want    float64
	}{
		{name: "maskgit x", alg: MaskGITPlus, logits: pad(distX), want: 0.6},
		{name: "margin x", alg: TopKMargin, logits: pad(distX), want: 0.4},
		{name: "entropy x", alg: Entropy, logits: pad(distX), want: 0.6*math.Log(0.6+1e-10) + 2*0.2*math.Log(0.2+1e-10)},
		{name: "maskgit y", alg: MaskGITPlus, logits: pad(distY), want: 0.55},
		{name: "margin y", alg: TopKMargin, logits: pad(distY), want: 0.49375},
		{name: "entropy w", alg: Entropy, logits: pad(distW), want: 0.58*math.Log(0.58+1e-10) + 0.42*math.Log(0.42+1e-10)},
		{name: "origin", alg: Origin, logits: pad(distW), want: 0.58},
		{
			// The mask id is never chosen, but its probability stays in the distribution.
			name: "mask excluded from the choice", alg: MaskGITPlus,
			logits: logitsOf(0.1, 0.2, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.35), wantTok: 1, want: 0.2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := dreamOpts(1, 1, tc.alg)
			s := newTokenSampler(&o, testVocab)
			tok, conf := s.sample(tc.logits, nil)
			if tok != tc.wantTok || math.Abs(conf-tc.want) > 1e-6 {
				t.Errorf("sample(%s) = %d, %.7f, want %d, %.7f", tc.alg, tok, conf, tc.wantTok, tc.want)
			}
		})
	}
}

func TestFilterTopP(t *testing.T) {
	tests := []struct {
		name  string
		probs []float64
		topP  float64
		keep  []int
	}{
		// Sorted: .5 .3 .15 .05, cumulative .5 .8 .95 1.
		{name: "the crossing token stays", probs: []float64{0.15, 0.5, 0.05, 0.3}, topP: 0.7, keep: []int{1, 3}},
		{name: "one more", probs: []float64{0.15, 0.5, 0.05, 0.3}, topP: 0.85, keep: []int{0, 1, 3}},
		{name: "the first always stays", probs: []float64{0.15, 0.5, 0.05, 0.3}, topP: 0.1, keep: []int{1}},
		{name: "all", probs: []float64{0.15, 0.5, 0.05, 0.3}, topP: 0.99, keep: []int{0, 1, 2, 3}},
		{name: "ties by id", probs: []float64{0.25, 0.25, 0.25, 0.25}, topP: 0.3, keep: []int{0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &tokenSampler{topP: tc.topP, tmp: make([]float64, len(tc.probs))}
			l := make([]float64, len(tc.probs))
			for i, p := range tc.probs {
				l[i] = math.Log(p)
			}
			s.filterTopP(l)
			var keep []int
			for i, x := range l {
				if !math.IsInf(x, -1) {
					keep = append(keep, i)
					if x != math.Log(tc.probs[i]) {
						t.Errorf("kept logit %d changed to %v", i, x)
					}
				}
			}
			if !slices.Equal(keep, tc.keep) {
				t.Errorf("filterTopP(%v, %v) keeps %v, want %v", tc.probs, tc.topP, keep, tc.keep)
			}
		})
	}
}

// naiveTopP is top_p_logits written the direct way: a full sort of the vocabulary.
func naiveTopP(logits []float64, topP float64) []float64 {
	probs := slices.Clone(logits)
	softmaxInPlace(probs)
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(probs[b], probs[a]) })
	out := slices.Clone(logits)
	var cum float64
	for k, v := range idx {
		if k > 0 && cum > topP {
			out[v] = math.Inf(-1)
		}
		cum += probs[v]
	}
	return out
}

func TestFilterTopPMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		n := 1 + rng.IntN(300)
		scale := []float64{0.1, 1, 5, 40}[i%4]
		l := make([]float64, n)
		for v := range l {
			l[v] = scale * rng.NormFloat64()
			if rng.IntN(10) == 0 && v > 0 {
				l[v] = l[v-1] // ties
			}
		}
		topP := rng.Float64()
		want := naiveTopP(l, topP)
		s := &tokenSampler{topP: topP, tmp: make([]float64, n)}
		s.filterTopP(l)
		if !slices.Equal(l, want) {
			t.Fatalf("case %d (n %d, scale %v, top-p %v): filterTopP differs from the full sort", i, n, scale, topP)
		}
	}
}

func TestFilterTopK(t *testing.T) {
	inf := math.Inf(-1)
	tests := []struct {
		name   string
		logits []float64
		k      int
		want   []float64
	}{
		{name: "ties with the k-th stay", logits: []float64{1, 3, 2, 3, 0}, k: 2, want: []float64{inf, 3, inf, 3, inf}},
		{name: "k 3", logits: []float64{1, 3, 2, 3, 0}, k: 3, want: []float64{inf, 3, 2, 3, inf}},
		{name: "k 1", logits: []float64{1, 3, 2, 4, 0}, k: 1, want: []float64{inf, inf, inf, 4, inf}},
		{name: "after top-p", logits: []float64{inf, 3, inf, 2, inf}, k: 4, want: []float64{inf, 3, inf, 2, inf}},
		{name: "NaN ignored", logits: []float64{math.NaN(), 1, 2}, k: 3, want: []float64{math.NaN(), 1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := slices.Clone(tc.logits)
			filterTopK(l, tc.k, make([]float64, 0, tc.k))
			if !slices.EqualFunc(l, tc.want, func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }) {
				t.Errorf("filterTopK(%v, %d) = %v, want %v", tc.logits, tc.k, l, tc.want)
			}
		})
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		x := make([]float64, 1+rng.IntN(100))
		for i := range x {
			x[i] = float64(rng.IntN(20))
		}
		k := 1 + rng.IntN(len(x))
		sorted := slices.Sorted(slices.Values(x))
		if got, want := kthLargest(x, k, nil), sorted[len(x)-k]; got != want {
			t.Fatalf("kthLargest(%v, %d) = %v, want %v", x, k, got, want)
		}
	}
}

func TestCategorical(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p := []float64{0.1, 0.6, 0.3, 0}
	const n = 30000
	var hist [4]int
	for range n {
		hist[categorical(p, 2, rng)]++ // id 2 left out: p renormalised to 1/7, 6/7
	}
	if hist[2] != 0 || hist[3] != 0 {
		t.Fatalf("categorical drew left-out or zero-probability ids: %v", hist)
	}
	if got := float64(hist[0]) / n; math.Abs(got-1.0/7) > 0.01 {
		t.Errorf("p(0) = %.3f, want %.3f", got, 1.0/7)
	}
	if got := categorical([]float64{0, 0, 1}, 2, rng); got != 0 {
		t.Errorf("categorical without mass = %d, want the first other id 0", got)
	}
}

func TestArgmaxSkip(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	tests := []struct {
		name string
		x    []float32
		skip int
		want int
	}{
		{name: "first of ties", x: []float32{1, 3, 3}, skip: -1, want: 1},
		{name: "skip", x: []float32{1, 3, 2}, skip: 1, want: 2},
		{name: "NaN ignored", x: []float32{nan, 1, 0}, skip: 2, want: 1},
		{name: "all -inf", x: []float32{inf, inf, inf}, skip: 0, want: 1},
		{name: "all NaN", x: []float32{nan, nan}, skip: 1, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := argmaxSkip(tc.x, tc.skip); got != tc.want {
				t.Errorf("argmaxSkip(%v, %d) = %d, want %d", tc.x, tc.skip, got, tc.want)
			}
		})
	}
}

func TestSelection(t *testing.T) {
	cands := func() []candidate {
		return []candidate{{pos: 5, conf: 0.2}, {pos: 1, conf: 0.9}, {pos: 3, conf: 0.2}, {pos: 4, conf: math.NaN()}, {pos: 2, conf: 0.95}}
	}
	positions := func(cs []candidate) []int {
		p := make([]int, 0, len(cs))
		for _, c := range cs {
			p = append(p, c.pos)
		}
		return p
	}
	if got := positions(mostConfident(cands(), 4)); !slices.Equal(got, []int{2, 1, 3, 5}) {
		t.Errorf("mostConfident(4) = %v, want [2 1 3 5] (ties to the lower position, NaN last)", got)
	}
	if got := positions(mostConfident(cands(), 9)); len(got) != 5 {
		t.Errorf("mostConfident(9) = %v, want all 5", got)
	}
	if got := positions(overThreshold(cands(), 0.9)); !slices.Equal(got, []int{2, 1}) {
		t.Errorf("overThreshold(0.9) = %v, want [2 1]", got)
	}
	if got := positions(overThreshold(cands(), 0.99)); !slices.Equal(got, []int{2}) {
		t.Errorf("overThreshold(0.99) = %v, want the most confident [2]", got)
	}
	if got := overThreshold(nil, 0.5); len(got) != 0 {
		t.Errorf("overThreshold(nil) = %v, want none", got)
	}
}

func TestSampleWithoutReplacement(t *testing.T) {
	// Weights softmax(conf / 1) = 1/6, 2/6, 3/6 for confidences ln 1, ln 2, ln 3: the first
	// draw picks position 2 half of the time; two draws never repeat a position.
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 20000
	first := 0
	for range n {
		cs := []candidate{{pos: 0, conf: 0}, {pos: 1, conf: math.Log(2)}, {pos: 2, conf: math.Log(3)}}
		got := sampleWithoutReplacement(cs, 2, 1, rng)
		if len(got) != 2 || got[0].pos == got[1].pos {
			t.Fatalf("sampleWithoutReplacement = %v, want two distinct positions", got)
		}
		if got[0].pos == 2 {
			first++
		}
	}
	if p := float64(first) / n; math.Abs(p-0.5) > 0.015 {
		t.Errorf("p(first draw is position 2) = %.3f, want 0.5", p)
	}
}

// The streaming margin and entropy confidences equal those of the materialised distribution.
func TestSoftmaxConfidences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		logits := make([]float32, 2+rng.IntN(60))
		p := make([]float64, len(logits))
		for i := range logits {
			logits[i] = float32(8 * rng.NormFloat64())
			p[i] = float64(logits[i])
		}
		softmaxInPlace(p)
		p1, p2 := topTwo(p)
		var h float64
		for _, q := range p {
			h += q * math.Log(q+1e-10)
		}
		if got := softmaxMargin(logits); math.Abs(got-(p1-p2)) > 1e-12 {
			t.Errorf("softmaxMargin = %g, want %g", got, p1-p2)
		}
		if got := softmaxNegEntropy(logits); math.Abs(got-h) > 1e-12 {
			t.Errorf("softmaxNegEntropy = %g, want %g", got, h)
		}
	}
}
