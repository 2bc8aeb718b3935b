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

package main

import (
	"context"

	"dllm.dev/dllm-operator/runtime/engine"
	"dllm.dev/dllm-operator/runtime/tasks"
	"dllm.dev/dllm-operator/runtime/tokenizer"
)

// uncachedComparison is how a cached run compares with the uncached one on the same items: the
// signals the runtime's shadow checks export (top-1 agreement at sampled passes, response
// tokens equal), beside what they are meant to predict (the answers and their accuracy).
type uncachedComparison struct {
	// UncachedAccuracy is the exact path's accuracy on the same items.
	UncachedAccuracy float64 `json:"uncached_accuracy"`
	// Top1 is the share of masked positions, at the traced passes, where the exact model's
	// most likely token equals the cached path's (dllm_shadow_top1_*).
	Top1 float64 `json:"top1_agreement"`
	// Tokens is the share of response tokens equal to the uncached response's
	// (dllm_shadow_tokens_*).
	Tokens float64 `json:"token_agreement"`
	// SameAnswer is the share of items whose decoded answer equals the uncached answer.
	SameAnswer float64 `json:"same_answer"`
}

// compareUncached reruns items without the cache and compares: results and outs are the
// cached run's (traced), in the order of items.
func compareUncached(ctx context.Context, eng *engine.Engine, tok *tokenizer.Tokenizer, items []tasks.Item, prompts [][]int,
	p engine.Params, results []*engine.Result, outs []string, eos, eot int) (*uncachedComparison, error) {
	var top1Compared, top1Agreed, tokCompared, tokAgreed, same, correct int
	for _, r := range results {
		c, a, err := eng.Check(ctx, r.Probes)
		if err != nil {
			return nil, err
		}
		top1Compared += c
		top1Agreed += a
	}
	p.Cache = nil
	exact, err := generateAll(ctx, eng, prompts, p, false)
	if err != nil {
		return nil, err
	}
	for i, r := range exact {
		tokCompared += len(r.Generated)
		tokAgreed += agreedTokens(r.Generated, results[i].Generated)
		out, err := answerText(tok, r.Generated, eos, eot)
		if err != nil {
			return nil, err
		}
		if out == outs[i] {
			same++
		}
		if tasks.Correct(items[i], out) {
			correct++
		}
	}
	share := func(a, b int) float64 { return float64(a) / float64(max(b, 1)) }
	return &uncachedComparison{UncachedAccuracy: share(correct, len(items)), Top1: share(top1Agreed, top1Compared),
		Tokens: share(tokAgreed, tokCompared), SameAnswer: share(same, len(items))}, nil
}
