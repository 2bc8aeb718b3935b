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
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// contentLogits is a denoiser whose logits at a position depend on the position and on the
// contents of that row only, both counted from the row's first real token: never on the row's
// index in the batch or on its left padding, like the model.
type contentLogits struct{ vocab int }

func (c contentLogits) Vocab() int { return c.vocab }

func (c contentLogits) Logits(_ context.Context, canvas [][]int, pad []int, from, to int) ([][]float32, error) {
	out := make([][]float32, len(canvas))
	for b, row := range canvas {
		skip := 0
		if pad != nil {
			skip = pad[b]
		}
		out[b] = make([]float32, (to-from)*c.vocab)
		for p := from; p < to; p++ {
			h := uint64(p - skip)
			for _, tok := range row[skip:] {
				h = h*1000003 + uint64(tok)
			}
			rng := rand.New(rand.NewPCG(h, 17))
			for v := range c.vocab {
				out[b][(p-from)*c.vocab+v] = 3 * (2*rng.Float32() - 1)
			}
		}
	}
	return out, nil
}

// With a seed per row, every row of a batch gets exactly its result alone with that seed, in
// whatever row it runs: what lets a serving engine batch independent requests.
func TestSeedsPerRowMatchRunsAlone(t *testing.T) {
	prompts := [][]int{{1, 2, 3}, {4, 5}, {7, 8, 9, 10}} // padded to the longest
	seeds := []uint64{11, 12, 13}
	ctx := context.Background()
	llada := func(ps [][]int, mod func(*LLaDAOptions)) [][]int {
		o := lladaOpts(4, 8, 4, func(o *LLaDAOptions) {
			o.Temperature, o.Remasking, o.MaskID, o.PadID, o.EOSID = 1, Random, 49, 0, -1
		}, mod)
		res, err := LLaDA(ctx, contentLogits{50}, ps, o, nil)
		if err != nil {
			t.Fatalf("LLaDA: %v", err)
		}
		return res.Generated
	}
	dream := func(ps [][]int, mod func(*DreamOptions)) [][]int {
		o := dreamOpts(6, 8, Origin, func(o *DreamOptions) { o.Temperature, o.MaskID, o.PadID = 1, 49, 0 }, mod)
		res, err := Dream(ctx, contentLogits{50}, ps, o, nil)
		if err != nil {
			t.Fatalf("Dream: %v", err)
		}
		return res.Generated
	}
	batchL := llada(prompts, func(o *LLaDAOptions) { o.Seeds = seeds })
	batchD := dream(prompts, func(o *DreamOptions) { o.Seeds = seeds })
	for b, p := range prompts {
		aloneL := llada([][]int{p}, func(o *LLaDAOptions) { o.Seed = seeds[b] })
		if diff := cmp.Diff(aloneL[0], batchL[b]); diff != "" {
			t.Errorf("LLaDA row %d in a batch differs from its run alone (-alone +batch):\n%s", b, diff)
		}
		aloneD := dream([][]int{p}, func(o *DreamOptions) { o.Seed = seeds[b] })
		if diff := cmp.Diff(aloneD[0], batchD[b]); diff != "" {
			t.Errorf("Dream row %d in a batch differs from its run alone (-alone +batch):\n%s", b, diff)
		}
	}
	// The same rows in another order give the same per-row results.
	swapped := llada([][]int{prompts[2], prompts[0]}, func(o *LLaDAOptions) { o.Seeds = []uint64{seeds[2], seeds[0]} })
	if !cmp.Equal(swapped[0], batchL[2]) || !cmp.Equal(swapped[1], batchL[0]) {
		t.Errorf("reordered batch gives other results per row")
	}
	_, err := LLaDA(ctx, contentLogits{50}, prompts, lladaOpts(4, 8, 4, func(o *LLaDAOptions) { o.Seeds = seeds[:2] }), nil)
	if !errors.Is(err, ErrInvalidInput) {
		t.Errorf("two seeds for three rows: err = %v, want ErrInvalidInput", err)
	}
}
