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

package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/sampler"
	"dllm.dev/dllm-operator/runtime/weights"
)

var (
	// ErrQueueFull is returned by Generate when the queue holds Options.MaxQueue requests.
	ErrQueueFull = errors.New("engine: queue full")
	// ErrClosed is returned by Generate after Close.
	ErrClosed = errors.New("engine: closed")
	// ErrInvalid wraps every rejection of a malformed request; the message names the field.
	ErrInvalid = errors.New("engine: invalid request")
)

// Params are a request's sampler settings. Requests with equal Params apart from Seed are
// batched together.
type Params struct {
	// Steps, GenLength and BlockLength shape the denoising (BlockLength: LLaDA only; 0 means
	// GenLength).
	Steps, GenLength, BlockLength int
	// Temperature 0 is greedy.
	Temperature float64
	// Remasking is LLaDA's remasking strategy.
	Remasking sampler.Remasking
	// Algorithm, TopP, TopK, AlgTemp and Eps are Dream's.
	Algorithm sampler.Algorithm
	TopP      float64
	TopK      int
	AlgTemp   float64
	Eps       float64
	// Threshold, if positive, commits every position whose confidence exceeds it (parallel
	// decoding).
	Threshold float64
	// Seed seeds the request's random numbers.
	Seed uint64
	// Cache, if set, runs the request with dLLM-Cache; nil runs the exact path.
	Cache *featcache.Settings
}

// compatible reports whether requests with p and q can share a sampler run.
func (p Params) compatible(q Params) bool {
	if (p.Cache == nil) != (q.Cache == nil) || (p.Cache != nil && *p.Cache != *q.Cache) {
		return false
	}
	p.Seed, q.Seed, p.Cache, q.Cache = 0, 0, nil, nil
	return p == q
}

// Update is a request's progress after one denoising step.
type Update struct {
	// Step is the step's index from 0.
	Step int
	// Response holds the response tokens so far, the mask id where none is committed yet. It
	// belongs to the callback.
	Response []int
}

// Request is one generation.
type Request struct {
	// Prompt is the prompt's token ids.
	Prompt []int
	// Params are the sampler settings.
	Params Params
	// OnUpdate, if set, is called after every denoising step, on the engine's goroutine; it
	// must return quickly.
	OnUpdate func(Update)
	// Trace records what the served passes predicted at a few evenly spaced passes
	// (Result.Probes), for a shadow check of the cache against the exact path (Check).
	Trace bool
}

// Result is a finished generation.
type Result struct {
	// Generated is the response region, GenLength tokens (EOS and padding included).
	Generated []int
	// Steps and Forwards count the sampler's steps and forward passes.
	Steps, Forwards int
	// BatchSize is the number of requests that shared the sampler run.
	BatchSize int
	// Cache counts what the batch's forward passes computed (all its rows together); zero on
	// the exact path.
	Cache model.Stats
	// QueueWait is the time from admission to the start of the run; Duration from admission
	// to the result.
	QueueWait, Duration time.Duration
	// Probes are a traced request's sampled predictions (Request.Trace).
	Probes []Probe
}

// Options configure an engine.
type Options struct {
	// MaxBatchSize is the most requests in one sampler run (at least 1).
	MaxBatchSize int
	// MaxQueue is the most requests waiting; Generate refuses more with ErrQueueFull.
	MaxQueue int
	// Workers is the number of sampler runs at once (at least 1). Each run uses every core
	// the backend has, so more than one helps only to overlap a long run with short ones.
	Workers int
	// EoTID is the chat end-of-turn token LLaDA's sampler treats specially, or −1.
	EoTID int
	// Observer, if set, is told about every denoising step and finished batch (metrics).
	Observer Observer
}

// Observer receives the engine's measurements. Calls come from the engine's goroutines and
// must return quickly.
type Observer interface {
	// Step reports one denoising step of a batch: its wall time and its forward passes.
	Step(d time.Duration, forwards int)
	// Batch reports a finished sampler run.
	Batch(b BatchReport)
}

// BatchReport describes a finished sampler run.
type BatchReport struct {
	// Requests is the batch size; Failed reports a run that ended in an error.
	Requests int
	Failed   bool
	// Cached reports a dLLM-Cache run. Stats counts the run's passes, all rows together, for
	// either path: an exact run's FLOPs equal its ExactFLOPs, and it reuses nothing.
	Cached bool
	Stats  model.Stats
}

// Engine runs requests on one model. It is safe for concurrent use.
type Engine struct {
	m   *model.Model
	cfg weights.Config
	o   Options

	mu       sync.Mutex
	queue    []*job
	inFlight int
	meter    meter
	closed   bool
	wake     chan struct{} // a token when the queue may have work
	done     chan struct{} // closed when every worker has exited
	workers  sync.WaitGroup
	gate     chan struct{} // tests only: workers wait on it before taking a batch
}

// job is one admitted request.
type job struct {
	ctx      context.Context
	req      Request
	admitted time.Time
	started  time.Time
	result   chan outcome // buffered: the worker never blocks on a caller that left
}

type outcome struct {
	res *Result
	err error
}

// New starts an engine on m, whose checkpoint configuration is cfg.
func New(m *model.Model, cfg weights.Config, o Options) (*Engine, error) {
	return newEngine(m, cfg, o, nil)
}

// newEngine is New with a gate the workers wait on before taking each batch (tests hold
// requests in the queue with it; nil: none).
func newEngine(m *model.Model, cfg weights.Config, o Options, gate chan struct{}) (*Engine, error) {
	switch {
	case o.MaxBatchSize < 1:
		return nil, fmt.Errorf("engine: max batch size %d: %w", o.MaxBatchSize, ErrInvalid)
	case o.MaxQueue < 0:
		return nil, fmt.Errorf("engine: max queue %d: %w", o.MaxQueue, ErrInvalid)
	case o.Workers < 1:
		return nil, fmt.Errorf("engine: %d workers: %w", o.Workers, ErrInvalid)
	case cfg.Family != weights.FamilyLLaDA && cfg.Family != weights.FamilyDream:
		return nil, fmt.Errorf("engine: model family %q has no sampler: %w", cfg.Family, ErrInvalid)
	}
	e := &Engine{m: m, cfg: cfg, o: o, wake: make(chan struct{}, 1), done: make(chan struct{}), gate: gate}
	e.meter.start = time.Now()
	e.workers.Add(o.Workers)
	for range o.Workers {
		go e.work()
	}
	go func() {
		e.workers.Wait()
		close(e.done)
	}()
	return e, nil
}

// Generate runs r and returns its result. It returns ErrQueueFull at once when the queue is
// full, ErrClosed after Close, an error wrapping ErrInvalid for a malformed request, and
// ctx's error when ctx ends first (a queued request then never runs; a running one stops
// when no other request of its batch is waiting for it).
func (e *Engine) Generate(ctx context.Context, r Request) (*Result, error) {
	if err := e.check(r); err != nil {
		return nil, err
	}
	j := &job{ctx: ctx, req: r, admitted: time.Now(), result: make(chan outcome, 1)}
	e.mu.Lock()
	e.meter.request(r.Params.Steps, j.admitted)
	switch {
	case e.closed:
		e.mu.Unlock()
		return nil, ErrClosed
	case len(e.queue) >= e.o.MaxQueue:
		e.mu.Unlock()
		return nil, ErrQueueFull
	case ctx.Err() != nil:
		e.mu.Unlock()
		return nil, ctx.Err()
	}
	e.queue = append(e.queue, j)
	e.meter.pending += r.Params.Steps
	e.mu.Unlock()
	e.signal()
	select {
	case out := <-j.result:
		return out.res, out.err
	case <-ctx.Done():
		e.mu.Lock()
		if i := slices.Index(e.queue, j); i >= 0 {
			e.queue = slices.Delete(e.queue, i, i+1)
			e.meter.pending -= r.Params.Steps
		}
		e.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Load returns the current occupancy and load.
func (e *Engine) Load() Load {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := Load{Queued: len(e.queue), InFlight: e.inFlight, Slots: e.o.MaxBatchSize * e.o.Workers}
	e.meter.load(&l, time.Now())
	return l
}

// stepped notes that a running batch of rows requests did one denoising step.
func (e *Engine) stepped(rows int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.meter.pending -= rows
	e.meter.work.add(float64(rows), time.Now())
}

// Close stops admitting requests and waits until every admitted one has finished, or ctx
// ends (then requests still queued or running end with ctx's error as their contexts allow).
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.signal()
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("engine: close: %w", ctx.Err())
	}
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// check validates r against the model and the sampler.
func (e *Engine) check(r Request) error {
	if len(r.Prompt) == 0 {
		return fmt.Errorf("%w: prompt is empty", ErrInvalid)
	}
	vocab := e.m.Vocab()
	for i, id := range r.Prompt {
		if id < 0 || id >= vocab {
			return fmt.Errorf("%w: prompt token %d is %d, outside the vocabulary of %d", ErrInvalid, i, id, vocab)
		}
	}
	if e.cfg.Family == weights.FamilyDream && r.Params.BlockLength != 0 && r.Params.BlockLength != r.Params.GenLength {
		return fmt.Errorf("%w: block length %d: Dream decodes the whole response at once", ErrInvalid, r.Params.BlockLength)
	}
	if r.Params.Cache != nil {
		if err := r.Params.Cache.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	var err error
	if e.cfg.Family == weights.FamilyLLaDA {
		o := e.lladaOptions(r.Params, nil)
		err = o.Validate()
	} else {
		o := e.dreamOptions(r.Params, nil)
		err = o.Validate()
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// work takes batches off the queue until the engine is closed and the queue is empty.
func (e *Engine) work() {
	defer e.workers.Done()
	for {
		if e.gate != nil {
			<-e.gate
		}
		batch, stop := e.take()
		if stop {
			e.signal() // pass the news on to the next worker
			return
		}
		if batch == nil {
			<-e.wake
			continue
		}
		left := e.run(batch)
		e.mu.Lock()
		e.inFlight -= len(batch)
		e.meter.pending -= left
		e.meter.runEnd(time.Now())
		e.mu.Unlock()
		e.signal() // the queue may hold more than this worker took
	}
}

// take removes the next batch from the queue: the oldest live request and the compatible ones
// behind it, up to MaxBatchSize. It reports stop when the engine is closed and drained.
func (e *Engine) take() (batch []*job, stop bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	keep := e.queue[:0]
	for _, j := range e.queue {
		switch {
		case j.ctx.Err() != nil:
			e.meter.pending -= j.req.Params.Steps
			j.result <- outcome{err: j.ctx.Err()}
		case len(batch) == 0 || (len(batch) < e.o.MaxBatchSize && batch[0].req.Params.compatible(j.req.Params)):
			batch = append(batch, j)
		default:
			keep = append(keep, j)
		}
	}
	clear(e.queue[len(keep):])
	e.queue = keep
	e.inFlight += len(batch)
	if batch != nil {
		e.meter.runStart(time.Now())
	}
	if len(e.queue) > 0 {
		e.signal() // another worker may take what this batch left
	}
	return batch, batch == nil && e.closed && len(e.queue) == 0
}

// run runs one batch and delivers each request's outcome. It returns the row-steps the batch
// was admitted with but did not run (a sampler that finished early, an error).
func (e *Engine) run(batch []*job) (left int) {
	start := time.Now()
	// The run stops early only when every request of the batch has gone.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	remaining := len(batch)
	for _, j := range batch {
		j.started = start
		stop := context.AfterFunc(j.ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			if remaining--; remaining == 0 {
				cancel()
			}
		})
		defer stop()
	}
	ran := 0 // denoising steps run
	res, stats, probes, err := e.sample(ctx, batch, func() {
		ran++
		e.stepped(len(batch))
	})
	left = len(batch) * (batch[0].req.Params.Steps - ran)
	if e.o.Observer != nil {
		e.o.Observer.Batch(BatchReport{Requests: len(batch), Failed: err != nil,
			Cached: batch[0].req.Params.Cache != nil, Stats: stats})
	}
	var cacheStats model.Stats // a request's cache statistics: none on the exact path
	if batch[0].req.Params.Cache != nil {
		cacheStats = stats
	}
	for b, j := range batch {
		if err != nil {
			j.result <- outcome{err: err}
			continue
		}
		j.result <- outcome{res: &Result{
			Generated: slices.Clone(res.Generated[b]), Steps: res.Steps, Forwards: res.Forwards,
			BatchSize: len(batch), Cache: cacheStats,
			QueueWait: j.started.Sub(j.admitted), Duration: time.Since(j.admitted), Probes: probes[b],
		}}
	}
	return left
}
