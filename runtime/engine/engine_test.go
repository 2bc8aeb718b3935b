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
	"slices"
	"sync"
	"testing"
	"time"

	"dllm.dev/dllm-operator/runtime/backend/cpu"
	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/model"
	"dllm.dev/dllm-operator/runtime/model/families"
	"dllm.dev/dllm-operator/runtime/sampler"
	"dllm.dev/dllm-operator/runtime/testmodel"
	"dllm.dev/dllm-operator/runtime/weights"
)

// tiny loads a small seeded checkpoint of family.
func tiny(t *testing.T, family string) (*model.Model, weights.Config) {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Options{Family: family, Seed: 3, Layers: 2}); err != nil {
		t.Fatal(err)
	}
	ck, err := weights.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ck.Close() })
	m, err := families.Load(cpu.New(), ck)
	if err != nil {
		t.Fatal(err)
	}
	return m, ck.Config
}

func start(t *testing.T, m *model.Model, cfg weights.Config, o Options, gate chan struct{}) *Engine {
	t.Helper()
	e, err := newEngine(m, cfg, o, gate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if gate != nil {
			close(gate)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// waitQueued waits until the engine holds n queued requests.
func waitQueued(t *testing.T, e *Engine, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.Load().Queued != n {
		if time.Now().After(deadline) {
			t.Fatalf("queue holds %d requests, want %d", e.Load().Queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

var sampled = Params{Steps: 8, GenLength: 8, BlockLength: 4, Temperature: 1, Remasking: sampler.Random}

// Requests queued together run as one batch, with left padding and a seed each, and every
// request gets exactly the tokens it gets alone, on the exact path and with the cache.
func TestBatchedRequestsMatchRunsAlone(t *testing.T) {
	cache := featcache.Settings{PromptInterval: 3, ResponseInterval: 2, TransferRatio: 0.25}
	for _, family := range []string{testmodel.FamilyLLaDA, testmodel.FamilyDream} {
		for _, c := range []*featcache.Settings{nil, &cache} {
			m, cfg := tiny(t, family)
			p := sampled
			if family == testmodel.FamilyDream {
				p.BlockLength, p.Algorithm, p.Eps = 0, sampler.Entropy, 1e-3
			}
			p.Cache = c
			reqs := []Request{{Prompt: []int{5, 6, 7}}, {Prompt: []int{9, 10, 11, 12, 13}}, {Prompt: []int{20}}}
			for i := range reqs {
				reqs[i].Params = p
				reqs[i].Params.Seed = uint64(100 + i)
			}
			alone := start(t, m, cfg, Options{MaxBatchSize: 1, MaxQueue: 4, Workers: 1, EoTID: -1}, nil)
			want := make([][]int, 0, len(reqs))
			for _, r := range reqs {
				res, err := alone.Generate(context.Background(), r)
				if err != nil {
					t.Fatal(err)
				}
				if res.BatchSize != 1 {
					t.Fatalf("batch size %d with MaxBatchSize 1", res.BatchSize)
				}
				want = append(want, res.Generated)
			}
			gate := make(chan struct{})
			e := start(t, m, cfg, Options{MaxBatchSize: 4, MaxQueue: 4, Workers: 1, EoTID: -1}, gate)
			got := make([]*Result, len(reqs))
			var wg sync.WaitGroup
			for i, r := range reqs {
				wg.Go(func() {
					res, err := e.Generate(context.Background(), r)
					if err != nil {
						t.Error(err)
						return
					}
					got[i] = res
				})
			}
			waitQueued(t, e, len(reqs))
			gate <- struct{}{}
			wg.Wait()
			for i, res := range got {
				if res == nil {
					continue
				}
				if res.BatchSize != len(reqs) {
					t.Errorf("%s cache %v: request %d ran in a batch of %d, want %d", family, c != nil, i, res.BatchSize, len(reqs))
				}
				if !slices.Equal(res.Generated, want[i]) {
					t.Errorf("%s cache %v: request %d batched = %v, alone = %v", family, c != nil, i, res.Generated, want[i])
				}
				if (c != nil) != (res.Cache.Forwards > 0) {
					t.Errorf("%s cache %v: request %d cache stats %+v", family, c != nil, i, res.Cache)
				}
			}
		}
	}
}

// Incompatible requests (other settings) never share a batch.
func TestIncompatibleRequestsRunApart(t *testing.T) {
	m, cfg := tiny(t, testmodel.FamilyLLaDA)
	gate := make(chan struct{})
	e := start(t, m, cfg, Options{MaxBatchSize: 4, MaxQueue: 4, Workers: 1, EoTID: -1}, gate)
	other := sampled
	other.Steps = 4
	sizes := make([]int, 3)
	var wg sync.WaitGroup
	for i, p := range []Params{sampled, other, sampled} {
		wg.Go(func() {
			res, err := e.Generate(context.Background(), Request{Prompt: []int{1, 2}, Params: p})
			if err != nil {
				t.Error(err)
				return
			}
			sizes[i] = res.BatchSize
		})
		waitQueued(t, e, i+1) // admission order: sampled, other, sampled
	}
	gate <- struct{}{} // the two sampled requests
	gate <- struct{}{} // the other one
	wg.Wait()
	if want := []int{2, 1, 2}; !slices.Equal(sizes, want) {
		t.Errorf("batch sizes %v, want %v", sizes, want)
	}
}

// A full queue refuses at once; the queue never grows past MaxQueue.
func TestQueueFull(t *testing.T) {
	m, cfg := tiny(t, testmodel.FamilyLLaDA)
	gate := make(chan struct{})
	e := start(t, m, cfg, Options{MaxBatchSize: 1, MaxQueue: 2, Workers: 1, EoTID: -1}, gate)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := e.Generate(context.Background(), Request{Prompt: []int{1}, Params: sampled}); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(t, e, 2)
	if _, err := e.Generate(context.Background(), Request{Prompt: []int{1}, Params: sampled}); !errors.Is(err, ErrQueueFull) {
		t.Errorf("third request: err = %v, want ErrQueueFull", err)
	}
	gate <- struct{}{}
	gate <- struct{}{}
	wg.Wait()
}

// A request whose context ends while it waits leaves the queue and never runs; one that ends
// while it runs returns at once.
func TestCancellation(t *testing.T) {
	m, cfg := tiny(t, testmodel.FamilyLLaDA)
	gate := make(chan struct{})
	e := start(t, m, cfg, Options{MaxBatchSize: 1, MaxQueue: 2, Workers: 1, EoTID: -1}, gate)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := e.Generate(ctx, Request{Prompt: []int{1}, Params: sampled})
		errc <- err
	}()
	waitQueued(t, e, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while queued: err = %v", err)
	}
	waitQueued(t, e, 0)

	long := sampled
	long.Steps, long.GenLength, long.BlockLength = 256, 256, 256
	ctx, cancel = context.WithCancel(context.Background())
	updates := make(chan struct{}, 1)
	req := Request{Prompt: []int{1}, Params: long, OnUpdate: func(Update) {
		select {
		case updates <- struct{}{}:
		default:
		}
	}}
	go func() {
		_, err := e.Generate(ctx, req)
		errc <- err
	}()
	waitQueued(t, e, 1)
	gate <- struct{}{}
	<-updates // it runs
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled while running: err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled running request did not return")
	}
	// The run returns its unused steps once it stops.
	deadline := time.Now().Add(10 * time.Second)
	for l := e.Load(); l.PendingSteps != 0 || l.InFlight != 0; l = e.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("after both cancellations: %d pending steps, %d in flight; want 0", l.PendingSteps, l.InFlight)
		}
		time.Sleep(time.Millisecond)
	}
}

// Updates stream the response as steps commit tokens, ending in the final tokens.
func TestUpdates(t *testing.T) {
	m, cfg := tiny(t, testmodel.FamilyLLaDA)
	e := start(t, m, cfg, Options{MaxBatchSize: 1, MaxQueue: 1, Workers: 1, EoTID: -1}, nil)
	var seen []Update
	res, err := e.Generate(context.Background(), Request{Prompt: []int{3, 4}, Params: sampled,
		OnUpdate: func(u Update) { seen = append(seen, u) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != res.Steps {
		t.Fatalf("%d updates for %d steps", len(seen), res.Steps)
	}
	masked := func(r []int) int {
		n := 0
		for _, id := range r {
			if id == cfg.MaskTokenID {
				n++
			}
		}
		return n
	}
	for i := 1; i < len(seen); i++ {
		if masked(seen[i].Response) > masked(seen[i-1].Response) {
			t.Errorf("step %d has more masks than step %d", i, i-1)
		}
	}
	if last := seen[len(seen)-1].Response; !slices.Equal(last, res.Generated) {
		t.Errorf("last update %v, result %v", last, res.Generated)
	}
}

// Close drains: admitted requests finish, later ones are refused.
func TestCloseDrains(t *testing.T) {
	m, cfg := tiny(t, testmodel.FamilyLLaDA)
	gate := make(chan struct{})
	e, err := newEngine(m, cfg, Options{MaxBatchSize: 2, MaxQueue: 8, Workers: 2, EoTID: -1}, gate)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if _, err := e.Generate(context.Background(), Request{Prompt: []int{1 + i}, Params: sampled}); err != nil {
				t.Errorf("admitted request %d: %v", i, err)
			}
		})
	}
	waitQueued(t, e, 6)
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		closed <- e.Close(ctx)
	}()
	gone, cancel := context.WithCancel(context.Background())
	cancel() // a probe that is admitted leaves at once
	for {
		_, err := e.Generate(gone, Request{Prompt: []int{1}, Params: sampled})
		if errors.Is(err, ErrClosed) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if l := e.Load(); l.Queued+l.InFlight+l.PendingSteps != 0 {
		t.Errorf("load after Close: %+v", l)
	}
}

// Malformed requests are refused before they queue, the error naming the field.
func TestInvalidRequests(t *testing.T) {
	m, cfg := tiny(t, testmodel.FamilyLLaDA)
	e := start(t, m, cfg, Options{MaxBatchSize: 1, MaxQueue: 1, Workers: 1, EoTID: -1}, nil)
	bad := sampled
	bad.GenLength = 7 // not a multiple of the block length
	for name, r := range map[string]Request{
		"empty prompt":       {Params: sampled},
		"token out of vocab": {Prompt: []int{1, 1 << 20}, Params: sampled},
		"block length":       {Prompt: []int{1}, Params: bad},
		"cache":              {Prompt: []int{1}, Params: Params{Steps: 4, GenLength: 4, Cache: &featcache.Settings{}}},
	} {
		if _, err := e.Generate(context.Background(), r); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := New(m, cfg, Options{MaxBatchSize: 0, MaxQueue: 1, Workers: 1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("MaxBatchSize 0: err = %v", err)
	}
}

// Load counts the steps admitted requests still need, the demand refused requests add, and,
// once steps have run, the capacity the demand is measured against.
func TestLoadAccounting(t *testing.T) {
	m, cfg := tiny(t, testmodel.FamilyLLaDA)
	gate := make(chan struct{})
	e := start(t, m, cfg, Options{MaxBatchSize: 1, MaxQueue: 2, Workers: 1, EoTID: -1}, gate)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := e.Generate(context.Background(), Request{Prompt: []int{1}, Params: sampled}); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(t, e, 2)
	l := e.Load()
	if l.PendingSteps != 2*sampled.Steps || l.Slots != 1 {
		t.Errorf("two queued requests: pending steps %d, slots %d; want %d, 1", l.PendingSteps, l.Slots, 2*sampled.Steps)
	}
	if l.CapacityRate != 0 || l.Saturation != 0 {
		t.Errorf("before any step: capacity %g, saturation %g; want 0", l.CapacityRate, l.Saturation)
	}
	before := l.DemandRate
	if _, err := e.Generate(context.Background(), Request{Prompt: []int{1}, Params: sampled}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third request: err = %v, want ErrQueueFull", err)
	}
	if after := e.Load().DemandRate; after <= before {
		t.Errorf("a refused request left the demand at %g (was %g)", after, before)
	}
	gate <- struct{}{}
	gate <- struct{}{}
	wg.Wait()
	l = e.Load()
	if l.PendingSteps != 0 || l.Queued != 0 {
		t.Errorf("after both finished: pending steps %d, queued %d; want 0", l.PendingSteps, l.Queued)
	}
	if l.CapacityRate <= 0 || l.Saturation <= 0 || l.Saturation != l.DemandRate/l.CapacityRate {
		t.Errorf("after two runs: demand %g, capacity %g, saturation %g; want positive and saturation = demand/capacity",
			l.DemandRate, l.CapacityRate, l.Saturation)
	}
}

// A traced request gets the same tokens as an untraced one, and probes of a few passes that
// the exact path confirms wherever the served path was exact: the exact path itself, and the
// cache refreshing everything on every pass.
func TestTraceProbes(t *testing.T) {
	exactCache := featcache.Settings{PromptInterval: 1, ResponseInterval: 1}
	staleCache := featcache.Settings{PromptInterval: 100, ResponseInterval: 100, TransferRatio: 0.25}
	for _, family := range []string{testmodel.FamilyLLaDA, testmodel.FamilyDream} {
		m, cfg := tiny(t, family)
		for _, tc := range []struct {
			name  string
			cache *featcache.Settings
			exact bool // every probe must agree
		}{{"exact path", nil, true}, {"cache refreshing every pass", &exactCache, true}, {"stale cache", &staleCache, false}} {
			p := sampled
			p.Steps, p.GenLength, p.BlockLength = 16, 16, 8
			if family == testmodel.FamilyDream {
				p.BlockLength, p.Algorithm, p.Eps = 0, sampler.Entropy, 1e-3
			}
			p.Cache = tc.cache
			e := start(t, m, cfg, Options{MaxBatchSize: 2, MaxQueue: 2, Workers: 1, EoTID: -1}, nil)
			prompt := []int{5, 6, 7}
			plain, err := e.Generate(context.Background(), Request{Prompt: prompt, Params: p})
			if err != nil {
				t.Fatal(err)
			}
			traced, err := e.Generate(context.Background(), Request{Prompt: prompt, Params: p, Trace: true})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(plain.Generated, traced.Generated) || plain.Probes != nil {
				t.Errorf("%s %s: tracing changed the tokens or an untraced request has probes", family, tc.name)
			}
			if len(traced.Probes) == 0 || len(traced.Probes) > traceSamples {
				t.Fatalf("%s %s: %d probes, want 1 to %d", family, tc.name, len(traced.Probes), traceSamples)
			}
			for _, pr := range traced.Probes {
				if len(pr.Canvas) != len(prompt)+p.GenLength || !slices.Equal(pr.Canvas[:len(prompt)], prompt) {
					t.Errorf("%s %s: probe of pass %d has canvas %v", family, tc.name, pr.Pass, pr.Canvas)
				}
			}
			compared, agreed, err := e.Check(context.Background(), traced.Probes)
			if err != nil {
				t.Fatal(err)
			}
			if compared == 0 || (tc.exact && agreed != compared) {
				t.Errorf("%s %s: %d of %d top-1 predictions agree with the exact path", family, tc.name, agreed, compared)
			}
		}
	}
}

// batchRecorder is an Observer that keeps the batch reports.
type batchRecorder struct {
	mu      sync.Mutex
	reports []BatchReport
}

func (r *batchRecorder) Step(time.Duration, int) {}

func (r *batchRecorder) Batch(b BatchReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, b)
}

// A run on the exact path reports the FLOPs it spent, its exact-path FLOPs and nothing saved or
// reused, so the FLOPs metrics cover every batch; its requests report no cache statistics.
func TestExactRunReportsItsFLOPs(t *testing.T) {
	m, cfg := tiny(t, testmodel.FamilyLLaDA)
	rec := &batchRecorder{}
	e := start(t, m, cfg, Options{MaxBatchSize: 1, MaxQueue: 1, Workers: 1, EoTID: -1, Observer: rec}, nil)
	res, err := e.Generate(context.Background(), Request{Prompt: []int{5, 6, 7}, Params: sampled})
	if err != nil {
		t.Fatal(err)
	}
	if res.Cache != (model.Stats{}) {
		t.Errorf("an exact request reports cache statistics %+v", res.Cache)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reports) != 1 {
		t.Fatalf("%d batch reports, want 1", len(rec.reports))
	}
	b := rec.reports[0]
	st := b.Stats
	// LLaDA asks each pass for the current block's logits only.
	want := int64(res.Forwards) * m.Arch().ExactFLOPs(3+sampled.GenLength, sampled.BlockLength)
	if b.Cached || st.Forwards != res.Forwards || st.FLOPs != want || st.ExactFLOPs != want || st.ReusedRows != 0 {
		t.Errorf("report %+v: want an uncached run of %d forwards, FLOPs = ExactFLOPs = %d, nothing reused", b, res.Forwards, want)
	}
}
