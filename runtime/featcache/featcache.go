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

package featcache

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Settings are one request's dLLM-Cache settings.
type Settings struct {
	// PromptInterval is K_p: the prompt's features are recomputed every K_p forward passes.
	// 1 recomputes them every pass.
	PromptInterval int
	// ResponseInterval is K_r: the response's features are recomputed every K_r forward passes.
	ResponseInterval int
	// TransferRatio is rho in [0, 1]: between response refreshes, the ⌊rho·G⌋ response tokens
	// whose value vectors changed most are recomputed (V-verify); 0 turns it off.
	TransferRatio float64
	// RefreshAtBlocks also refreshes prompt and response at the first forward of every
	// semi-autoregressive block (a serving option; the reference refreshes on its interval
	// only).
	RefreshAtBlocks bool
	// PartialV overwrites the cached values of the selected tokens only (LLaDA-V's variant);
	// the reference overwrites every response token's value on each V-verify.
	PartialV bool
}

// Exact are the settings under which the cached path computes exactly what the uncached path
// does.
var Exact = Settings{PromptInterval: 1, ResponseInterval: 1}

// Validate reports every invalid field, each named as the runtime's flags name it.
func (s Settings) Validate() error {
	var errs []error
	if s.PromptInterval < 1 {
		errs = append(errs, fmt.Errorf("cache-prompt-interval %d, want ≥ 1", s.PromptInterval))
	}
	if s.ResponseInterval < 1 {
		errs = append(errs, fmt.Errorf("cache-response-interval %d, want ≥ 1", s.ResponseInterval))
	}
	if !(s.TransferRatio >= 0 && s.TransferRatio <= 1) {
		errs = append(errs, fmt.Errorf("cache-transfer-ratio %v, want a number in [0, 1]", s.TransferRatio))
	}
	return errors.Join(errs...)
}

// TransferCount returns k = ⌊rho·G⌋, the number of response tokens V-verify recomputes per
// layer and row, as the reference's int(G·rho).
func (s Settings) TransferCount(genLen int) int {
	return int(math.Floor(float64(genLen) * s.TransferRatio))
}

// Refresh says what a forward pass recomputes in every layer but layer 0, which always
// recomputes everything.
type Refresh struct {
	// Forward is the pass's number, counted from 1 since the request started.
	Forward int
	// Prompt and Response say whether the segment's features are recomputed.
	Prompt, Response bool
}

// Layer returns what layer l recomputes in this pass.
func (r Refresh) Layer(l int) (prompt, response bool) {
	if l == 0 {
		return true, true
	}
	return r.Prompt, r.Response
}

// Schedule counts one request's forward passes and decides their refreshes.
type Schedule struct {
	s Settings
	n int
}

// NewSchedule returns the schedule of a request that has run no forward pass yet.
func NewSchedule(s Settings) *Schedule { return &Schedule{s: s} }

// Next advances to the next forward pass and returns its refreshes. blockStart says the pass is
// the first of a semi-autoregressive block; it matters only with RefreshAtBlocks.
func (sc *Schedule) Next(blockStart bool) Refresh {
	sc.n++
	r := Refresh{
		Forward:  sc.n,
		Prompt:   (sc.n-1)%sc.s.PromptInterval == 0,
		Response: (sc.n-1)%sc.s.ResponseInterval == 0,
	}
	if blockStart && sc.s.RefreshAtBlocks {
		r.Prompt, r.Response = true, true
	}
	return r
}

// LeastSimilar returns the indices of the k smallest similarities, in increasing index order.
// Ties go to the lower index (the reference's topk leaves them unordered); NaN counts as least
// similar, so a broken value vector is always recomputed. k is clamped to [0, len(sim)].
func LeastSimilar(sim []float32, k int) []int {
	k = min(max(k, 0), len(sim))
	idx := make([]int, len(sim))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		// cmp.Compare orders NaN before every number.
		if c := cmp.Compare(sim[a], sim[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	sel := idx[:k:k]
	slices.Sort(sel)
	return sel
}
