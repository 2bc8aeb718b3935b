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
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// FuzzLLaDA runs LLaDA with small random settings over random logits and checks the
// invariants: no error for valid settings, no panic, no mask left, the prompt unchanged,
// committed tokens never changed, and the step budget kept.
func FuzzLLaDA(f *testing.F) {
	f.Add(uint64(1), []byte{3, 1}, uint8(2), uint8(4), uint8(2), uint8(0), uint8(0), uint8(0), uint8(10))
	f.Add(uint64(2), []byte{0, 5, 2}, uint8(1), uint8(3), uint8(5), uint8(50), uint8(0xff), uint8(200), uint8(3))
	f.Add(uint64(3), []byte{7}, uint8(4), uint8(1), uint8(1), uint8(255), uint8(0x0a), uint8(128), uint8(2))
	f.Fuzz(func(t *testing.T, seed uint64, promptLens []byte, blocks, blockLen, perBlock, temp, flags, thr, vocab uint8) {
		if len(promptLens) == 0 || len(promptLens) > 4 {
			return
		}
		v := 2 + int(vocab)%30
		o := LLaDAOptions{
			Steps:               1 + int(perBlock)%6,
			GenLength:           1 + int(blockLen)%6,
			BlockLength:         1,
			Temperature:         float64(temp) / 64,
			Remasking:           Remasking(flags & 1),
			LogitsEOSInf:        flags&4 != 0,
			ConfidenceEOSEoTInf: flags&8 != 0,
			Seed:                seed,
			MaskID:              int(seed % uint64(v)),
			PadID:               int(seed>>8) % v,
			EOSID:               int(seed>>16) % v,
			EoTID:               int(seed>>24)%(v+1) - 1,
		}
		o.BlockLength = o.GenLength
		o.GenLength *= 1 + int(blocks)%4
		o.Steps *= o.GenLength / o.BlockLength
		if flags&2 != 0 {
			o.CFGScale = float64(flags>>4) / 4
		}
		if flags&0x40 != 0 {
			o.Threshold = float64(thr) / 255
		}
		rng := rand.New(rand.NewPCG(seed, 1))
		prompts := make([][]int, len(promptLens))
		for b, n := range promptLens {
			prompts[b] = make([]int, int(n)%7)
			for i := range prompts[b] {
				prompts[b][i] = rng.IntN(v)
			}
		}
		var tr trace
		res, err := LLaDA(context.Background(), randomLogits(v, seed, 8), prompts, o, tr.onStep)
		if err != nil {
			t.Fatalf("LLaDA(%+v): %v", o, err)
		}
		checkTrace(t, &tr, res, prompts, o.MaskID)
		if res.Steps > o.Steps {
			t.Errorf("ran %d steps, budget %d", res.Steps, o.Steps)
		}
		if o.Threshold == 0 && res.Steps != o.Steps {
			t.Errorf("ran %d steps without a threshold, want %d", res.Steps, o.Steps)
		}
		for b, g := range res.Generated {
			if len(g) != o.GenLength {
				t.Errorf("row %d: %d generated tokens, want %d", b, len(g), o.GenLength)
			}
		}
	})
}

func TestParallelDeterminism(t *testing.T) {
	// 4096 tokens × 32 positions is enough work for the parallel path; GOMAXPROCS 1 forces the
	// sequential one. Both must give the same canvases.
	const vocab = 4096
	prompts := [][]int{{1, 2, 3}, {4, 5, 6}}
	runs := []struct {
		name string
		run  func() (*Result, error)
	}{
		{name: "llada", run: func() (*Result, error) {
			o := LLaDAOptions{Steps: 8, GenLength: 32, BlockLength: 32, Temperature: 1, Remasking: Random,
				MaskID: vocab - 1, EOSID: -1, EoTID: -1, Seed: 3}
			return LLaDA(context.Background(), randomLogits(vocab, 1, 4), prompts, o, nil)
		}},
		{name: "dream origin", run: func() (*Result, error) {
			o := DreamOptions{Steps: 8, MaxNewTokens: 32, Eps: 1e-3, Temperature: 1, MaskID: vocab - 1, Seed: 3}
			return Dream(context.Background(), randomLogits(vocab, 1, 4), prompts, o, nil)
		}},
		{name: "dream entropy", run: func() (*Result, error) {
			o := DreamOptions{Steps: 8, MaxNewTokens: 32, Eps: 1e-3, Algorithm: Entropy, Temperature: 0.5, TopP: 0.9,
				AlgTemp: 0.1, MaskID: vocab - 1, Seed: 3}
			return Dream(context.Background(), randomLogits(vocab, 1, 4), prompts, o, nil)
		}},
	}
	for _, tc := range runs {
		t.Run(tc.name, func(t *testing.T) {
			prev := runtime.GOMAXPROCS(1)
			seq, err := tc.run()
			runtime.GOMAXPROCS(max(prev, 4))
			par, err2 := tc.run()
			runtime.GOMAXPROCS(prev)
			if err != nil || err2 != nil {
				t.Fatalf("runs failed: %v, %v", err, err2)
			}
			if !slices.EqualFunc(seq.Canvas, par.Canvas, slices.Equal) {
				t.Errorf("sequential and parallel runs differ:\n%v\n%v", seq.Canvas, par.Canvas)
			}
		})
	}
}

func TestLLaDARowIndependentOfBatch(t *testing.T) {
	o := LLaDAOptions{Steps: 4, GenLength: 8, BlockLength: 4, Temperature: 1, MaskID: 49, EOSID: -1, EoTID: -1, Seed: 8}
	alone, err := LLaDA(context.Background(), randomLogits(50, 2, 2), [][]int{{1, 2}}, o, nil)
	if err != nil {
		t.Fatalf("LLaDA: %v", err)
	}
	batch, err := LLaDA(context.Background(), randomLogits(50, 2, 2), [][]int{{1, 2}, {3, 4}}, o, nil)
	if err != nil {
		t.Fatalf("LLaDA: %v", err)
	}
	if !slices.Equal(alone.Canvas[0], batch.Canvas[0]) {
		t.Errorf("row 0 alone %v, in a batch %v", alone.Canvas[0], batch.Canvas[0])
	}
}
