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
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// maxWorkers bounds the persistent helper goroutines, whatever Threads asks for.
const maxWorkers = 256

// workers is the process-wide pool of helper goroutines shared by every Backend. Helpers are
// started on first need and then park on the queue forever, so a parallel operation costs a
// channel send per helper instead of a goroutine start.
var workers = &pool{queue: make(chan *helper, maxWorkers)}

type pool struct {
	queue   chan *helper
	mu      sync.Mutex
	started int
}

// helper is one invitation to join a parallel operation. It is settled exactly once: either a
// worker claims it (state 0→1) and runs the job, or the caller withdraws it (0→2) because it
// finished the work alone. Withdrawing is what makes nested or concurrent use deadlock-free:
// the caller only waits for helpers that are actually running.
type helper struct {
	state atomic.Int32
	job   *job
}

// job is one parallel operation: fn is run by the caller and by every helper that joins.
type job struct {
	fn      func()
	pending atomic.Int32 // helpers not yet settled
	done    chan struct{}
}

// wait returns once every helper has settled. It polls first: a goroutine that blocks on the
// channel parks, and the Go scheduler then runs it again only after the helper that wakes it
// yields its P or an idle P steals it, tens of microseconds that the next operation waits for.
func (j *job) wait() {
	start := time.Now()
	for i := 0; j.pending.Load() != 0; i++ {
		if i%32 == 31 {
			if time.Since(start) > spinFor {
				<-j.done
				return
			}
			runtime.Gosched()
		}
	}
}

func (j *job) settle() {
	if j.pending.Add(-1) == 0 {
		close(j.done)
	}
}

// grow makes sure at least n helpers exist.
func (p *pool) grow(n int) {
	n = min(n, maxWorkers)
	p.mu.Lock()
	defer p.mu.Unlock()
	for ; p.started < n; p.started++ {
		go p.work()
	}
}

func (p *pool) work() {
	for {
		h := p.next()
		if h.state.CompareAndSwap(0, 1) {
			h.job.fn()
			h.job.settle()
		}
	}
}

// spinFor is how long an idle helper keeps polling the queue before it parks. A forward pass
// issues its operations microseconds apart; a parked helper takes tens of microseconds to wake
// (an OS thread wake-up through the Go scheduler), which is as long as a whole small matrix
// product, so without spinning the helpers of short operations join too late to help. Spinning
// stops soon after the last operation, so an idle process does not burn CPU.
const spinFor = 200 * time.Microsecond

// next returns the next invitation, polling the queue for spinFor before blocking on it.
func (p *pool) next() *helper {
	start := time.Now()
	for i := 0; ; i++ {
		select {
		case h := <-p.queue:
			return h
		default:
		}
		if i%32 == 31 {
			if time.Since(start) > spinFor {
				return <-p.queue
			}
			runtime.Gosched() // let other goroutines have this P while there is nothing to do
		}
	}
}

// run calls fn on the calling goroutine and on up to threads−1 helpers at once, and returns when
// every call has returned. fn must divide the work itself (typically by taking items from an
// atomic counter), since any helper may join late or not at all.
func (p *pool) run(threads int, fn func()) {
	if threads <= 1 {
		fn()
		return
	}
	n := min(threads-1, maxWorkers)
	p.grow(n)
	j := &job{fn: fn, done: make(chan struct{})}
	j.pending.Store(int32(n))
	hs := make([]helper, n)
	for i := range hs {
		hs[i].job = j
		select {
		case p.queue <- &hs[i]:
		default: // queue full: other operations hold every helper
			hs[i].state.Store(2)
			j.settle()
		}
	}
	fn()
	for i := range hs {
		if hs[i].state.CompareAndSwap(0, 2) {
			j.settle()
		}
	}
	j.wait()
}

// parallelFor calls fn(i) for every i in [0, n) on up to threads goroutines, handing out
// indices in order. newState, if not nil, is called once per participating goroutine and its
// result passed to each of that goroutine's calls (scratch buffers); release, if not nil, gets
// it back afterwards.
func parallelFor[S any](threads, n int, newState func() S, release func(S), fn func(s S, i int)) {
	threads = min(threads, n)
	var next atomic.Int64
	body := func() {
		var s S
		started := false
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				break
			}
			if !started && newState != nil {
				s = newState()
			}
			started = true
			fn(s, i)
		}
		if started && release != nil {
			release(s)
		}
	}
	workers.run(threads, body)
}

// rowGrain is the least work (elements) worth handing to another goroutine: waking a parked
// helper costs microseconds, about what one core needs for this many simple elementwise steps.
const rowGrain = 1 << 15

// forRows calls fn on consecutive ranges [lo, hi) covering [0, rows), spread over be's threads
// when the tensor (rows × rowLen elements) is large enough to pay for it.
func (be *Backend) forRows(rows, rowLen int, fn func(lo, hi int)) {
	threads := be.Threads()
	if threads <= 1 || rows < 2 || rows*rowLen < 2*rowGrain {
		fn(0, rows)
		return
	}
	// Chunks of at least rowGrain elements, about four per thread so a busy core is covered.
	per := max(rowGrain/max(rowLen, 1), (rows+4*threads-1)/(4*threads), 1)
	chunks := (rows + per - 1) / per
	parallelFor(threads, chunks, nil, nil, func(_ struct{}, i int) {
		fn(i*per, min(rows, (i+1)*per))
	})
}
