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
		if _, err := m.Logits(ctx, [][]int{canvas}, nil, seqLen/4); err != nil {
			b.Fatal(err)
		}
	}
	flops := float64(m.Arch().FLOPs(seqLen)) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkCachedStep times one dLLM-Cache pass that refreshes nothing (layer 0 in full, V-verify
// and the selected rows elsewhere) on the HotpotQA-like workload's shape: the LLaDA-shaped
// network of BenchmarkDenoisingStep, a 4096-token prompt and a 32-token response, K_p 100, K_r 8,
// rho 0.25. It reports the pass's FLOPs per second and its FLOPs reduction against the exact
// path.
func BenchmarkCachedStep(b *testing.B) {
	const promptLen, genLen = 4096, 32
	dir := b.TempDir()
	o := testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 1, DModel: 512, Layers: 8, Heads: 8, MLP: 1536, Vocab: 4096}
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
	canvas := make([]int, promptLen+genLen)
	for i := range canvas {
		canvas[i] = i % 256
		if i >= promptLen {
			canvas[i] = ck.Config.MaskTokenID
		}
	}
	s, err := m.NewSession(1, len(canvas), promptLen, nil, featcache.Settings{PromptInterval: 100, ResponseInterval: 8, TransferRatio: 0.25})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Logits(ctx, [][]int{canvas}, nil, promptLen); err != nil { // forward 1 fills the cache
		b.Fatal(err)
	}
	before := s.Stats()
	for b.Loop() {
		canvas[promptLen+b.N%genLen] = 7 // a committed token, as a sampler step would
		if _, err := s.Logits(ctx, [][]int{canvas}, nil, promptLen); err != nil {
			b.Fatal(err)
		}
	}
	after := s.Stats()
	flops := float64(after.FLOPs - before.FLOPs)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(float64(after.ExactFLOPs-before.ExactFLOPs)/flops, "flops-reduction")
}
