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

package model_test

import (
	"context"
	"testing"

	"dllm.dev/dllm-operator/runtime/backend/cpu"
	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/model/families"
	"dllm.dev/dllm-operator/runtime/testmodel"
	"dllm.dev/dllm-operator/runtime/weights"
)

// BenchmarkDenoisingStep times one uncached denoising step (one forward pass over the whole
// canvas) of a small LLaDA-shaped network: d_model 512, 8 layers, 8 heads, MLP 1536 (LLaDA's
// 3× ratio), over a 1024-position canvas. It reports the step's GFLOP/s by Arch.FLOPs.
func BenchmarkDenoisingStep(b *testing.B) {
	const seqLen = 1024
	dir := b.TempDir()
	o := testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 1, DModel: 512, Layers: 8, Heads: 8, MLP: 1536}
	if err := testmodel.Write(dir, o); err != nil {
		b.Fatal(err)
	}
	ck, err := weights.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ck.Close() }()
	m, err := families.Load(cpu.New(), ck)
	if err != nil {
		b.Fatal(err)
	}
	canvas := make([]int, seqLen)
	for i := range canvas {
		canvas[i] = i % 280
		if i >= seqLen/4 {
			canvas[i] = ck.Config.MaskTokenID
		}
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := m.Logits(ctx, [][]int{canvas}, nil, seqLen/4, seqLen); err != nil {
			b.Fatal(err)
		}
	}
	flops := float64(m.Arch().ExactFLOPs(seqLen, seqLen-seqLen/4)) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkCachedStep times dLLM-Cache passes between prompt refreshes, as the schedule runs them
// (mostly passes that refresh nothing: layer 0 in full, V-verify and the selected rows elsewhere,
// and every K_r-th pass the whole response), on the
// LLaDA-shaped network of BenchmarkDenoisingStep with a
// 4096-token vocabulary, for the two standard workloads' shapes and settings: GSM8K-like (prompt
// 512, response 256, K_p 50, K_r 7, rho 0.25) and HotpotQA-like (prompt 4096, response 32,
// K_p 100, K_r 8, rho 0.25). It reports the pass's FLOPs per second and its FLOPs reduction
// against the exact path; the exact pass's rate is BenchmarkDenoisingStep's.
func BenchmarkCachedStep(b *testing.B) {
	m, mask := cacheBenchModel(b)
	for _, w := range cacheWorkloads {
		b.Run(w.name, func(b *testing.B) {
			benchmarkCachedStep(b, m, mask, w.promptLen, w.genLen, w.set)
		})
	}
}

// BenchmarkExactStep is BenchmarkCachedStep's exact pass, on the same shapes and logit window:
// the per-pass speedup of a workload is the ratio of the two ns/op.
func BenchmarkExactStep(b *testing.B) {
	m, mask := cacheBenchModel(b)
	for _, w := range cacheWorkloads {
		b.Run(w.name, func(b *testing.B) {
			canvas := benchCanvas(mask, w.promptLen, w.genLen)
			from, to := w.promptLen, min(w.promptLen+32, len(canvas))
			for b.Loop() {
				if _, err := m.Logits(context.Background(), [][]int{canvas}, nil, from, to); err != nil {
					b.Fatal(err)
				}
			}
			flops := float64(m.Arch().ExactFLOPs(len(canvas), to-from)) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// cacheWorkloads are the two standard dLLM-Cache workloads' shapes and settings.
var cacheWorkloads = []struct {
	name              string
	promptLen, genLen int
	set               featcache.Settings
}{
	{"gsm8k", 512, 256, featcache.Settings{PromptInterval: 50, ResponseInterval: 7, TransferRatio: 0.25}},
	{"hotpotqa", 4096, 32, featcache.Settings{PromptInterval: 100, ResponseInterval: 8, TransferRatio: 0.25}},
}

// cacheBenchModel loads the LLaDA-shaped benchmark network with a 4096-token vocabulary and
// returns it with its mask id.
func cacheBenchModel(b testing.TB) (*model.Model, int) {
	dir := b.TempDir()
	o := testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 1, DModel: 512, Layers: 8, Heads: 8, MLP: 1536, Vocab: 4096}
	if err := testmodel.Write(dir, o); err != nil {
		b.Fatal(err)
	}
	ck, err := weights.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ck.Close() })
	m, err := families.Load(cpu.New(), ck)
	if err != nil {
		b.Fatal(err)
	}
	return m, ck.Config.MaskTokenID
}

// benchCanvas is a prompt of byte tokens followed by genLen masks.
func benchCanvas(mask, promptLen, genLen int) []int {
	canvas := make([]int, promptLen+genLen)
	for i := range canvas {
		canvas[i] = i % 256
		if i >= promptLen {
			canvas[i] = mask
		}
	}
	return canvas
}

func benchmarkCachedStep(b *testing.B, m *model.Model, mask, promptLen, genLen int, set featcache.Settings) {
	canvas := benchCanvas(mask, promptLen, genLen)
	ctx := context.Background()
	// The sampler asks for one 32-position block's logits per pass.
	from, to := promptLen, min(promptLen+32, len(canvas))
	var s *model.Session
	var flops, exact int64
	// start opens a session and runs its forward 1, which fills the cache, off the clock; a
	// session is replaced before its schedule reaches the next prompt refresh, so every timed
	// pass is one the schedule runs between prompt refreshes.
	start := func() {
		b.StopTimer()
		defer b.StartTimer()
		if s != nil {
			st := s.Stats()
			flops, exact = flops+st.FLOPs, exact+st.ExactFLOPs
			s.Close()
		}
		var err error
		if s, err = m.NewSession(1, len(canvas), promptLen, nil, set); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Logits(ctx, [][]int{canvas}, nil, from, to); err != nil {
			b.Fatal(err)
		}
		st := s.Stats()
		flops, exact = flops-st.FLOPs, exact-st.ExactFLOPs
	}
	step := 0
	for b.Loop() {
		if step%(set.PromptInterval-1) == 0 {
			start()
		}
		step++
		canvas[promptLen+step%genLen] = 7 // a committed token, as a sampler step would
		if _, err := s.Logits(ctx, [][]int{canvas}, nil, from, to); err != nil {
			b.Fatal(err)
		}
	}
	st := s.Stats()
	flops, exact = flops+st.FLOPs, exact+st.ExactFLOPs
	s.Close()
	b.ReportMetric(float64(flops)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(float64(exact)/float64(flops), "flops-reduction")
}
