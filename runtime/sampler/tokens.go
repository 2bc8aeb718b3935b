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
	"math"
	"math/rand/v2"
	"slices"
)

// This file chooses one position's token from its logits and scores the choice. Everything is
// computed in float64; NaN logits or probabilities count as −inf when a maximum is taken.

// argmaxSkip returns the index of the largest value, the first on ties, never skip. When every
// other value is −inf or NaN it returns the first index that is not skip, as torch.argmax does
// for equal values.
func argmaxSkip[F float32 | float64](x []F, skip int) int {
	best, bestVal := -1, math.Inf(-1)
	for v, f := range x {
		val := float64(f)
		if v == skip || math.IsNaN(val) {
			continue
		}
		if best < 0 || val > bestVal {
			best, bestVal = v, val
		}
	}
	if best < 0 {
		return firstOther(skip)
	}
	return best
}

// firstOther returns the first id that is not skip; callers guarantee a vocabulary of two
// or more tokens.
func firstOther(skip int) int {
	if skip == 0 {
		return 1
	}
	return 0
}

// gumbelArgmax draws a token from softmax(logits / tau) by the Gumbel-max trick of LLaDA's
// add_gumbel_noise. The reference takes, in float64,
//
//	argmax_v exp(l_v) / (−log u_v)^tau,   u_v ~ U(0, 1)
//
// which is computed here as argmax_v l_v − tau·log(−log u_v): the same argmax without the
// overflow of exp. One uniform number is drawn per vocabulary entry, skip included, in id
// order.
func gumbelArgmax(logits []float32, tau float64, skip int, rng *rand.Rand) int {
	best, bestVal := -1, math.Inf(-1)
	for v, l := range logits {
		key := float64(l) - tau*math.Log(-math.Log(rng.Float64()))
		if v == skip || math.IsNaN(key) {
			continue
		}
		if best < 0 || key > bestVal {
			best, bestVal = v, key
		}
	}
	if best < 0 {
		return firstOther(skip)
	}
	return best
}

// softmaxProb returns softmax(logits)[tok] without materialising the distribution.
func softmaxProb(logits []float32, tok int) float64 {
	m := math.Inf(-1)
	for _, l := range logits {
		m = max(m, float64(l)) // max propagates NaN, and so does the result
	}
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l) - m)
	}
	return math.Exp(float64(logits[tok])-m) / sum
}

// softmaxMargin returns p1 − p2, the two largest probabilities of softmax(logits), without
// materialising the distribution.
func softmaxMargin(logits []float32) float64 {
	l1, l2 := float32(math.Inf(-1)), float32(math.Inf(-1))
	for _, l := range logits {
		switch {
		case l > l1:
			l1, l2 = l, l1
		case l > l2:
			l2 = l
		}
	}
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l) - float64(l1))
	}
	return (1 - math.Exp(float64(l2)-float64(l1))) / sum
}

// softmaxNegEntropy returns Σ p·log(p + 1e-10) over p = softmax(logits), Dream's entropy
// confidence (higher is more certain).
func softmaxNegEntropy(logits []float32) float64 {
	m := math.Inf(-1)
	for _, l := range logits {
		m = max(m, float64(l))
	}
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l) - m)
	}
	var h float64
	for _, l := range logits {
		p := math.Exp(float64(l)-m) / sum
		h += p * math.Log(p+1e-10)
	}
	return h
}

// softmaxInPlace replaces x by softmax(x).
func softmaxInPlace(x []float64) {
	m := math.Inf(-1)
	for _, f := range x {
		m = max(m, f)
	}
	var sum float64
	for i, f := range x {
		x[i] = math.Exp(f - m)
		sum += x[i]
	}
	for i := range x {
		x[i] /= sum
	}
}

// tokenSampler is Dream's sample_tokens for one position at a time. It keeps scratch buffers
// of the vocabulary's size, so it is not safe for concurrent use.
type tokenSampler struct {
	temperature float64
	topP        float64 // the filter runs for 0 < topP < 1
	topK        int     // the filter runs for topK > 0
	alg         Algorithm
	skip        int // the mask id, never chosen

	probs []float64 // scaled logits, then probabilities
	tmp   []float64 // scratch for the top-p filter's probabilities and the top-k heap
	keep  []int     // scratch for the top-p filter's kept ids
	kept  []float64 // scratch for the top-p filter's kept logits
}

func newTokenSampler(o *DreamOptions, vocab int) *tokenSampler {
	return &tokenSampler{
		temperature: o.Temperature,
		topP:        o.TopP,
		topK:        o.TopK,
		alg:         o.Algorithm,
		skip:        o.MaskID,
		probs:       make([]float64, vocab),
		tmp:         make([]float64, vocab),
	}
}

// sample chooses a token from one position's logits and returns it with its confidence:
//
//	l = logits / temperature          (if temperature > 0)
//	l = topP(l), then topK(l)         (filtered entries become −inf)
//	p = softmax(l)
//	x0 ~ Categorical(p) if temperature > 0, else argmax p
//	confidence = p[x0] (Origin, MaskGITPlus), p1 − p2 (TopKMargin), Σ p·log(p + 1e-10) (Entropy)
//
// The reference fills filtered entries with the dtype's lowest finite value instead of −inf;
// either way their probability is exactly 0.
func (s *tokenSampler) sample(logits []float32, rng *rand.Rand) (int, float64) {
	p := s.probs
	for v, l := range logits {
		p[v] = float64(l)
		if s.temperature > 0 {
			p[v] /= s.temperature
		}
	}
	if s.topP > 0 && s.topP < 1 {
		s.filterTopP(p)
	}
	if s.topK > 0 && s.topK < len(p) {
		filterTopK(p, s.topK, s.tmp[:0])
	}
	softmaxInPlace(p)
	var tok int
	if s.temperature > 0 {
		tok = categorical(p, s.skip, rng)
	} else {
		tok = argmaxSkip(p, s.skip)
	}
	switch s.alg {
	case TopKMargin:
		p1, p2 := topTwo(p)
		return tok, p1 - p2
	case Entropy:
		var negEntropy float64
		for _, q := range p {
			negEntropy += q * math.Log(q+1e-10)
		}
		return tok, negEntropy
	default:
		return tok, p[tok]
	}
}

// filterTopP is Dream's top_p_logits: sort the tokens by probability, highest first; drop every
// token whose preceding tokens already hold more than topP of the mass (the cumulative sum
// shifted right by one, so the token that crosses topP and the first token stay). Ties are
// ordered by id.
//
// Only the head of the sorted order matters, so instead of sorting the whole vocabulary it
// sorts the tokens with probability at least thr, lowering thr until their mass crosses topP:
// such a set is always a prefix of the full order.
func (s *tokenSampler) filterTopP(logits []float64) {
	probs := s.tmp
	copy(probs, logits)
	softmaxInPlace(probs)
	pmax := slices.Max(probs)
	if !(pmax > 0) { // NaN logits: leave them to the softmax, as the reference does
		return
	}
	byProb := func(a, b int) int {
		if c := -cmpFloat(probs[a], probs[b]); c != 0 {
			return c
		}
		return a - b
	}
	for thr := pmax; ; thr /= 16 {
		if thr < pmax*1e-12 {
			thr = 0
		}
		s.keep = s.keep[:0]
		for v, q := range probs {
			if q >= thr {
				s.keep = append(s.keep, v)
			}
		}
		slices.SortFunc(s.keep, byProb)
		n, crossed := topPPrefix(s.keep, probs, s.topP)
		if crossed || thr == 0 {
			s.keep = s.keep[:n]
			break
		}
	}
	s.kept = s.kept[:0]
	for _, v := range s.keep {
		s.kept = append(s.kept, logits[v])
	}
	for v := range logits {
		logits[v] = math.Inf(-1)
	}
	for i, v := range s.keep {
		logits[v] = s.kept[i]
	}
}

// topPPrefix returns how many leading ids of sorted (highest probability first) top-p keeps,
// and whether the cut falls inside sorted, so that no token after it could be kept.
func topPPrefix(sorted []int, probs []float64, topP float64) (int, bool) {
	var cum float64
	for k, v := range sorted {
		if k > 0 && cum > topP {
			return k, true
		}
		cum += probs[v]
	}
	return len(sorted), cum > topP
}

// filterTopK is Dream's top_k_logits: every logit below the k-th largest becomes −inf (ties
// with the k-th largest stay). heap is scratch space with capacity for k values.
func filterTopK(logits []float64, k int, heap []float64) {
	kth := kthLargest(logits, k, heap)
	for v, l := range logits {
		if l < kth {
			logits[v] = math.Inf(-1)
		}
	}
}

// kthLargest returns the k-th largest non-NaN value of x, or −inf if there are fewer, using a
// min-heap of the k largest values seen so far.
func kthLargest(x []float64, k int, heap []float64) float64 {
	h := heap[:0]
	for _, f := range x {
		switch {
		case math.IsNaN(f):
		case len(h) < k:
			h = append(h, f)
			for i := len(h) - 1; i > 0 && h[(i-1)/2] > h[i]; i = (i - 1) / 2 {
				h[i], h[(i-1)/2] = h[(i-1)/2], h[i]
			}
		case f > h[0]:
			h[0] = f
			siftDown(h)
		}
	}
	if len(h) < k {
		return math.Inf(-1)
	}
	return h[0]
}

// siftDown restores the min-heap property of h after its root changed.
func siftDown(h []float64) {
	for i := 0; ; {
		small := i
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < len(h) && h[c] < h[small] {
				small = c
			}
		}
		if small == i {
			return
		}
		h[i], h[small] = h[small], h[i]
		i = small
	}
}

// categorical draws an id from the distribution p with skip left out (renormalising the
// rest), by inverting the cumulative sum. Without mass outside skip it falls back to the
// argmax, as the reference falls back to max when Categorical rejects its input.
func categorical(p []float64, skip int, rng *rand.Rand) int {
	var total float64
	for v, q := range p {
		if v != skip && q > 0 {
			total += q
		}
	}
	if !(total > 0) || math.IsInf(total, 1) {
		return argmaxSkip(p, skip)
	}
	u := rng.Float64() * total
	last := -1
	var cum float64
	for v, q := range p {
		if v == skip || !(q > 0) {
			continue
		}
		cum += q
		last = v
		if u < cum {
			return v
		}
	}
	return last // u within rounding of total
}

// topTwo returns the two largest values of p (NaN ignored); p has at least two entries.
func topTwo(p []float64) (float64, float64) {
	p1, p2 := math.Inf(-1), math.Inf(-1)
	for _, q := range p {
		switch {
		case q > p1:
			p1, p2 = q, p1
		case q > p2:
			p2 = q
		}
	}
	return p1, p2
}

// cmpFloat orders a before b when a < b, with NaN below everything.
func cmpFloat(a, b float64) int {
	switch {
	case a < b, math.IsNaN(a) && !math.IsNaN(b):
		return -1
	case a > b, math.IsNaN(b) && !math.IsNaN(a):
		return 1
	}
	return 0
}
