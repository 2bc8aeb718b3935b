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

package parity_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/model/families"
	"dllm.dev/dllm-operator/runtime/sampler"
	"dllm.dev/dllm-operator/runtime/weights"
)

// cacheFixture is the file hack/parity/reference.py writes for the cached path.
type cacheFixture struct {
	Checkpoint     checkpointSpec `json:"checkpoint"`
	CachedGenerate []struct {
		generateCase
		Cases            any     `json:"cases"`
		MinSimilarityGap float64 `json:"min_similarity_gap"`
		StepLogits       []struct {
			Forward int       `json:"forward"`
			Logits  []float32 `json:"logits"`
		} `json:"step_logits"`
	} `json:"cached_generate"`
}

// cacheSettings are the dLLM-Cache keys of a cached case's settings.
type cacheSettings struct {
	PromptInterval   int     `json:"prompt_interval"`
	ResponseInterval int     `json:"response_interval"`
	TransferRatio    float64 `json:"transfer_ratio"`
}

// recorder passes a session's logits through and keeps a copy of some forwards' logits.
type recorder struct {
	*model.Session
	keep    map[int]bool
	kept    map[int][]float32
	spans   map[int][2]int // the positions of each kept forward's logits
	forward int
}

func (r *recorder) Logits(ctx context.Context, canvas [][]int, pad []int, from, to int) ([][]float32, error) {
	out, err := r.Session.Logits(ctx, canvas, pad, from, to)
	r.forward++
	if err == nil && r.keep[r.forward] {
		r.kept[r.forward] = slices.Clone(out[0])
		r.spans[r.forward] = [2]int{from, to}
	}
	return out, err
}

func TestCachedGenerateParity(t *testing.T) {
	for _, family := range []string{"llada", "dream"} {
		t.Run(family, func(t *testing.T) {
			var f cacheFixture
			readFixture(t, family+"-cache.json", &f)
			ck := rebuild(t, f.Checkpoint, family+"-cache.json")
			for _, b := range backends(t) {
				m, err := families.Load(b, ck)
				if err != nil {
					t.Fatal(err)
				}
				for _, gc := range f.CachedGenerate {
					t.Run(b.Name()+"/"+gc.Name, func(t *testing.T) {
						var cs cacheSettings
						if err := json.Unmarshal(gc.Settings, &cs); err != nil {
							t.Fatal(err)
						}
						set := featcache.Settings{PromptInterval: cs.PromptInterval, ResponseInterval: cs.ResponseInterval, TransferRatio: cs.TransferRatio}
						rec := &recorder{keep: map[int]bool{}, kept: map[int][]float32{}, spans: map[int][2]int{}}
						for _, sl := range gc.StepLogits {
							rec.keep[sl.Forward] = true
						}
						counts, got := runCached(t, m, ck.Config, gc.generateCase, set, rec)
						if !slices.Equal(counts, gc.TransferCounts) {
							t.Errorf("tokens committed per step = %v, want %v", counts, gc.TransferCounts)
						}
						if !slices.Equal(got, gc.GeneratedIDs) {
							t.Errorf("generated ids (min margin %g, similarity gap %g)\n got %v\nwant %v", gc.MinMargin, gc.MinSimilarityGap, got, gc.GeneratedIDs)
						}
						v := m.Vocab()
						for _, sl := range gc.StepLogits {
							span := rec.spans[sl.Forward]
							if err := compare(rec.kept[sl.Forward], sl.Logits[span[0]*v:span[1]*v], relTolLogits); err != nil {
								t.Errorf("logits of forward %d: %v", sl.Forward, err)
							}
						}
					})
				}
			}
		})
	}
}

// runCached runs a fixture's sampler over a fresh cached session.
func runCached(t *testing.T, m *model.Model, cfg weights.Config, gc generateCase, set featcache.Settings, rec *recorder) ([]int, []int) {
	t.Helper()
	var counts []int
	onStep := func(s sampler.Step) error {
		counts = append(counts, len(s.Positions[0]))
		return nil
	}
	p := len(gc.PromptIDs)
	var (
		res *sampler.Result
		err error
	)
	switch cfg.Family {
	case weights.FamilyLLaDA:
		o := lladaOptions(t, cfg, gc)
		rec.Session = newSession(t, m, p, p+o.GenLength, set)
		res, err = sampler.LLaDA(context.Background(), rec, [][]int{gc.PromptIDs}, o, onStep)
	case weights.FamilyDream:
		o := dreamOptions(t, cfg, gc)
		rec.Session = newSession(t, m, p, p+o.MaxNewTokens, set)
		res, err = sampler.Dream(context.Background(), rec, [][]int{gc.PromptIDs}, o, onStep)
	}
	if err != nil {
		t.Fatal(err)
	}
	return counts, res.Generated[0]
}

func newSession(t *testing.T, m *model.Model, promptLen, seqLen int, set featcache.Settings) *model.Session {
	t.Helper()
	s, err := m.NewSession(1, seqLen, promptLen, nil, set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
