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
	"fmt"
	"math/rand/v2"
	"testing"
)

// fixedLogits returns a copy of the same random logits on every call, so a benchmark measures
// the sampler rather than the fake model.
type fixedLogits struct {
	vocab int
	rows  [][]float32
}

func newFixedLogits(vocab, rows, length int) *fixedLogits {
	rng := rand.New(rand.NewPCG(1, 1))
	f := &fixedLogits{vocab: vocab, rows: make([][]float32, rows)}
	for b := range f.rows {
		f.rows[b] = make([]float32, length*vocab)
		for i := range f.rows[b] {
			f.rows[b][i] = float32(rng.NormFloat64() * 3)
		}
	}
	return f
}

func (f *fixedLogits) Vocab() int { return f.vocab }

func (f *fixedLogits) Logits(_ context.Context, canvas [][]int, _ []int, from, to int) ([][]float32, error) {
	out := make([][]float32, len(canvas))
	for b := range canvas {
		out[b] = append([]float32(nil), f.rows[b][from*f.vocab:to*f.vocab]...)
	}
	return out, nil
}

// BenchmarkLLaDA runs one 32-token block in 32 steps with LLaDA 8B's vocabulary; ns/op
// divided by 32 is the sampler's cost per step (plus copying the logits).
func BenchmarkLLaDA(b *testing.B) {
	const vocab, prompt, gen = 126464, 8, 32
	for _, temp := range []float64{0, 1} {
		b.Run(fmt.Sprintf("temperature=%v", temp), func(b *testing.B) {
			d := newFixedLogits(vocab, 1, prompt+gen)
			o := LLaDAOptions{Steps: gen, GenLength: gen, BlockLength: gen, Temperature: temp,
				MaskID: 126336, PadID: 126081, EOSID: 126081, EoTID: 126348}
			prompts := [][]int{make([]int, prompt)}
			for b.Loop() {
				if _, err := LLaDA(context.Background(), d, prompts, o, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDream runs 32 tokens in 32 steps with Dream 7B's vocabulary and the paper's
// entropy / temperature 0.2 / top-p 0.95 setting.
func BenchmarkDream(b *testing.B) {
	const vocab, prompt, gen = 152064, 8, 32
	d := newFixedLogits(vocab, 1, prompt+gen)
	o := DreamOptions{Steps: gen, MaxNewTokens: gen, Eps: 1e-3, Algorithm: Entropy, Temperature: 0.2, TopP: 0.95,
		MaskID: 151666, PadID: 151643}
	prompts := [][]int{make([]int, prompt)}
	for b.Loop() {
		if _, err := Dream(context.Background(), d, prompts, o, nil); err != nil {
			b.Fatal(err)
		}
	}
}
