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

package cpu

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// TestParallelForNested runs parallel loops inside parallel loops from several goroutines at
// once: every index must run exactly once and nothing may deadlock, however many helpers the
// inner loops find busy.
func TestParallelForNested(t *testing.T) {
	const outer, inner = 16, 50
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var counts [outer * inner]atomic.Int32
			parallelFor(4, outer, nil, nil, func(_ struct{}, i int) {
				parallelFor(3, inner, nil, nil, func(_ struct{}, j int) {
					counts[i*inner+j].Add(1)
				})
			})
			for i := range counts {
				if n := counts[i].Load(); n != 1 {
					t.Errorf("index %d ran %d times", i, n)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestParallelForState checks that each participating goroutine gets its own state and
// releases it.
func TestParallelForState(t *testing.T) {
	var made, released atomic.Int32
	var sum atomic.Int64
	parallelFor(3, 1000, func() *int { made.Add(1); return new(int) }, func(p *int) {
		released.Add(1)
		sum.Add(int64(*p))
	}, func(p *int, i int) { *p += i })
	if made.Load() != released.Load() || made.Load() < 1 || made.Load() > 3 {
		t.Errorf("made %d states, released %d, want the same number in [1, 3]", made.Load(), released.Load())
	}
	if sum.Load() != 999*1000/2 {
		t.Errorf("sum of indices = %d, want %d", sum.Load(), 999*1000/2)
	}
}

// TestConcurrentMatMul shares one Backend between goroutines.
func TestConcurrentMatMul(t *testing.T) {
	be := New(WithThreads(2))
	gs := make([]*gemm, 4)
	var wg sync.WaitGroup
	for w := range gs {
		r := rand.New(rand.NewPCG(uint64(w), 5))
		gs[w] = newGEMM(r, 100, 200, 150, 3, true) // large enough to run on both threads
		clear(gs[w].c.data)
		wg.Go(func() { gs[w].run(be.gemmKernels(), be.Threads()) })
	}
	wg.Wait()
	for _, g := range gs {
		verifyGEMM(t, "concurrent", g, 0)
	}
}
