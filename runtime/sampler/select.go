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
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// candidate is a masked position with its predicted token and the confidence that ranks it.
type candidate struct {
	pos  int
	tok  int
	conf float64
}

// byConfidence orders candidates most confident first; NaN ranks below everything, and ties
// go to the lower position, so the order is deterministic.
func byConfidence(a, b candidate) int {
	if c := cmpFloat(b.conf, a.conf); c != 0 {
		return c
	}
	return cmp.Compare(a.pos, b.pos)
}

// mostConfident returns the n most confident candidates (all of them if there are fewer).
// It reorders cands.
func mostConfident(cands []candidate, n int) []candidate {
	slices.SortFunc(cands, byConfidence)
	return cands[:min(max(n, 0), len(cands))]
}

// overThreshold returns the candidates whose confidence is at least thr, and the most
// confident one even if it is below (Fast-dLLM's get_transfer_index with a threshold). It
// reorders cands.
func overThreshold(cands []candidate, thr float64) []candidate {
	slices.SortFunc(cands, byConfidence)
	n := min(1, len(cands))
	for n < len(cands) && cands[n].conf >= thr {
		n++
	}
	return cands[:n]
}

// sampleWithoutReplacement draws n candidates without replacement with probabilities
// softmax(conf / temp), as torch.multinomial(softmax(conf / temp), n) does, by the Gumbel-top-k
// trick: the n largest keys conf/temp − log(−log u) are such a draw. It reorders cands.
func sampleWithoutReplacement(cands []candidate, n int, temp float64, rng *rand.Rand) []candidate {
	keys := make([]float64, len(cands))
	for i, c := range cands {
		keys[i] = c.conf/temp - math.Log(-math.Log(rng.Float64()))
	}
	idx := make([]int, len(cands))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmpFloat(keys[b], keys[a]); c != 0 {
			return c
		}
		return cmp.Compare(cands[a].pos, cands[b].pos)
	})
	out := make([]candidate, min(max(n, 0), len(cands)))
	for i := range out {
		out[i] = cands[idx[i]]
	}
	return out
}

// positionsAndTokens returns the chosen candidates' positions, ascending, and their tokens.
func positionsAndTokens(chosen []candidate) ([]int, []int) {
	slices.SortFunc(chosen, func(a, b candidate) int { return cmp.Compare(a.pos, b.pos) })
	pos := make([]int, len(chosen))
	tok := make([]int, len(chosen))
	for i, c := range chosen {
		pos[i], tok[i] = c.pos, c.tok
	}
	return pos, tok
}

// streams derives the random numbers of a run from its seed. Each (row, step, position) gets
// its own PCG stream, so the outcome depends neither on the order in which positions are
// evaluated nor on the other rows' positions.
// With a seed per row, row b's streams are those of row 0 of a batch of one seeded rows[b]:
// positions count from the row's first real token, so left padding changes nothing.
type streams struct {
	seed uint64
	rows []uint64
	pad  []int
}

// newStreams returns the streams of a run over canvas c with seed, or with a seed per row
// when rows is set (it must have a seed for every row).
func newStreams(seed uint64, rows []uint64, c *canvas) (streams, error) {
	if rows != nil && len(rows) != len(c.rows) {
		return streams{}, fmt.Errorf("%w: seeds has %d entries for %d rows", ErrInvalidInput, len(rows), len(c.rows))
	}
	return streams{seed: seed, rows: rows, pad: c.padCounts()}, nil
}

// at returns the stream of position pos of row b at step i; pos −1 is the row's stream for
// choices over all its positions.
func (s streams) at(b, i, pos int) *rand.Rand {
	seed := s.seed
	if s.rows != nil {
		if pos >= 0 {
			pos -= s.pad[b]
		}
		seed, b = s.rows[b], 0
	}
	h := splitmix(splitmix(splitmix(uint64(b))+uint64(i)) + uint64(pos))
	return rand.New(rand.NewPCG(seed, h))
}

// splitmix is the finaliser of the SplitMix64 generator, a bijective 64-bit mix.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// minParallelWork is the number of logits (positions × vocabulary) below which a step's
// predictions run on the calling goroutine: smaller work does not pay for the goroutines.
const minParallelWork = 1 << 16

// parallelFor calls fn(w, i) for every i in [0, n), spreading the calls over at most
// maxWorkers goroutines when n·cost (cost: logits per call) is large enough; w in
// [0, maxWorkers) identifies the goroutine, so fn may use per-worker scratch space.
func parallelFor(n, cost, maxWorkers int, fn func(w, i int)) {
	workers := min(n, maxWorkers)
	if workers <= 1 || n*cost < minParallelWork {
		for i := range n {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(w, i)
			}
		})
	}
	wg.Wait()
}

// predictAll calls predict for every candidate of every row, in parallel when the work is
// large; predict fills in the candidate's token and confidence. w identifies the worker.
func predictAll(cands [][]candidate, vocab, workers int, predict func(w, b int, c *candidate)) {
	type slot struct{ b, j int }
	var work []slot
	for b := range cands {
		for j := range cands[b] {
			work = append(work, slot{b, j})
		}
	}
	parallelFor(len(work), vocab, workers, func(w, k int) {
		s := work[k]
		predict(w, s.b, &cands[s.b][s.j])
	})
}

// candidatesAt returns a candidate for each position, with only the position set.
func candidatesAt(pos []int) []candidate {
	c := make([]candidate, len(pos))
	for j, p := range pos {
		c[j].pos = p
	}
	return c
}
