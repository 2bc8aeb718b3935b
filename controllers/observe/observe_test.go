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

package observe

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"dllm.dev/dllm-operator/controllers/autotune"
	"dllm.dev/dllm-operator/runtime/engine"
	"dllm.dev/dllm-operator/runtime/featcache"
	"dllm.dev/dllm-operator/runtime/telemetry"
)

// pod is a runtime's real metrics registry behind an HTTP server, as the operator scrapes it.
type pod struct {
	m   *telemetry.Metrics
	srv *httptest.Server
	gen int
}

func newPod(t *testing.T, s featcache.Settings) *pod {
	p := &pod{m: telemetry.New(func() engine.Load { return engine.Load{Slots: 4, Saturation: 0.5} })}
	p.gen = p.m.SetCacheSettings(&s)
	mux := http.NewServeMux()
	mux.Handle("/metrics", p.m.Handler())
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *pod) endpoint(name string) Endpoint {
	return Endpoint{Pod: name, Address: strings.TrimPrefix(p.srv.URL, "http://")}
}

// serve records n requests of the given latency, prompt and response lengths and steps, every
// other one shadow-checked with agreement a.
func (p *pod) serve(n int, latency time.Duration, prompt, response, steps int, a float64) {
	for i := range n {
		p.m.Step(latency/time.Duration(steps), steps)
		p.m.Request(latency, 0, steps, prompt, response)
		if i%2 == 0 {
			p.m.Shadow(p.gen, telemetry.ShadowResult{Compared: 100, Agreed: int(100 * a)})
		}
	}
}

func scrape(t *testing.T, p *pod, name string) Sample {
	t.Helper()
	s, err := Scraper{}.Scrape(context.Background(), p.endpoint(name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Two pods with the same settings merge into one observation of what they served between two
// scrapes; a pod whose settings changed in between, and one that restarted, are left out with
// the reason.
func TestObservationFromRealRuntimeMetrics(t *testing.T) {
	settings := featcache.Settings{PromptInterval: 100, ResponseInterval: 7, TransferRatio: 0.25}
	a, b, c := newPod(t, settings), newPod(t, settings), newPod(t, settings)
	var tr Tracker
	start := time.Unix(1000, 0)
	a.serve(5, time.Second, 10, 10, 8, 1) // before the window: not counted
	first := map[string]Sample{"a": scrape(t, a, "a"), "b": scrape(t, b, "b"), "c": scrape(t, c, "c")}
	if ws, skipped := tr.Observe(start, first); len(ws) != 0 || len(skipped) != 3 {
		t.Fatalf("first scrape: %d windows, skipped %v; want none and 3", len(ws), skipped)
	}
	if s := first["a"]; s.Generation != 1 || !s.Enabled || s.Settings != (autotune.Settings{PromptInterval: 100, ResponseInterval: 7, TransferPercent: 25}) ||
		s.Latency.Count != 5 || s.PromptTokens != 50 {
		t.Fatalf("sample %+v", s)
	}

	a.serve(30, 200*time.Millisecond, 60, 128, 16, 0.98)
	b.serve(10, 400*time.Millisecond, 120, 128, 16, 0.94)
	next := settings
	next.ResponseInterval = 8
	c.gen = c.m.SetCacheSettings(&next)
	c.serve(10, time.Second, 60, 128, 16, 1)
	second := map[string]Sample{"a": scrape(t, a, "a"), "b": scrape(t, b, "b"), "c": scrape(t, c, "c")}
	ws, skipped := tr.Observe(start.Add(10*time.Second), second)
	if len(ws) != 2 || len(skipped) != 1 || !errors.Is(skipped[0], ErrSettingsChanged) {
		t.Fatalf("windows %v, skipped %v; want a and b, and c skipped for its settings change", ws, skipped)
	}
	obs := Merge(ws)
	if len(obs) != 1 {
		t.Fatalf("%d observations, want one group", len(obs))
	}
	o := obs[0]
	check := func(name string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %v, want %v ± %v", name, got, want, tol)
		}
	}
	if len(o.Pods) != 2 || o.Requests != 40 || o.Samples != 20 {
		t.Errorf("observation %+v: want pods a and b, 40 requests, 20 shadow samples", o)
	}
	check("mean latency (s)", o.MeanLatency.Seconds(), (30*0.2+10*0.4)/40, 1e-9)
	// The p95 falls among the 0.4 s requests, in the latency bucket from 0.34 s to 0.63 s.
	if p95 := o.P95Latency.Seconds(); p95 < 0.34 || p95 > 0.63 {
		t.Errorf("p95 latency = %vs, want within the bucket that holds 0.4 s", p95)
	}
	check("prompt tokens", o.PromptTokens, (30*60+10*120)/40.0, 1e-9)
	check("response tokens", o.ResponseTokens, 128, 1e-9)
	check("agreement", o.Agreement, (15*0.98+5*0.94)/20, 1e-9)
	check("agreement variance", o.AgreementVar, 0.0003, 0.0003)
	check("tokens per second", o.TokensPerSecond, 40*128/10.0, 1e-9)
	check("forwards per second", o.ForwardsPerSecond, 40*16/10.0, 1e-9)
	check("saturation", o.Saturation, 0.5, 1e-9)
	if w := o.Window(); w.Settings.ResponseInterval != 7 || w.Requests != 40 || w.Samples != 20 {
		t.Errorf("tuner window %+v", w)
	}

	// c now counts under its new settings; a restarted (a fresh registry) and is skipped.
	c.serve(4, time.Second, 60, 128, 16, 1)
	restarted := newPod(t, settings)
	third := map[string]Sample{"a": scrape(t, restarted, "a"), "c": scrape(t, c, "c")}
	ws, skipped = tr.Observe(start.Add(20*time.Second), third)
	if len(ws) != 1 || ws[0].Pod != "c" || ws[0].Settings.ResponseInterval != 8 || ws[0].Latency.Count != 4 ||
		len(skipped) != 1 || !errors.Is(skipped[0], ErrRestarted) {
		t.Errorf("windows %+v, skipped %v; want c's 4 requests under K_r 8, and a skipped as restarted", ws, skipped)
	}
}

func TestHistogramQuantileAndVariance(t *testing.T) {
	inf := math.Inf(1)
	h := Histogram{Bounds: []float64{1, 2, 4, inf}, Counts: []float64{0, 10, 20, 20}, Count: 20, Sum: 50}
	for _, tc := range []struct{ q, want float64 }{{0.5, 2}, {0.25, 1.5}, {0.75, 3}, {1, 4}} {
		if got := h.Quantile(tc.q); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("q%.2f = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := (Histogram{Bounds: []float64{1, inf}, Counts: []float64{0, 5}, Count: 5}).Quantile(0.5); got != 1 {
		t.Errorf("a quantile in the +Inf bucket = %v, want its lower bound 1", got)
	}
	if !math.IsNaN((Histogram{}).Quantile(0.5)) {
		t.Error("the quantile of nothing is a number")
	}
	// Ten at 1.5 and ten at 3 (the midpoints), around the mean 2.5 of the exact sum.
	if got := h.Variance(); math.Abs(got-0.625) > 1e-9 {
		t.Errorf("variance = %v, want 0.625", got)
	}
}

func TestReadyEndpoints(t *testing.T) {
	slice := func(port string, eps ...discoveryv1.Endpoint) discoveryv1.EndpointSlice {
		return discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{Name: new(port), Port: new(int32(8000))}}, Endpoints: eps}
	}
	ep := func(pod, addr string, ready, terminating *bool) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ready, Terminating: terminating},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: pod}}
	}
	got := ReadyEndpoints([]discoveryv1.EndpointSlice{
		slice("http", ep("b", "10.0.0.2", new(true), nil), ep("a", "10.0.0.1", nil, nil),
			ep("unready", "10.0.0.3", new(false), nil), ep("leaving", "10.0.0.4", new(true), new(true))),
		slice("http", ep("a", "fd00::1", new(true), nil), ep("v6", "fd00::5", new(true), nil)),
		slice("other", ep("c", "10.0.0.9", new(true), nil)),
	}, "http")
	want := []Endpoint{{"a", "10.0.0.1:8000"}, {"b", "10.0.0.2:8000"}, {"v6", "[fd00::5]:8000"}}
	if len(got) != len(want) {
		t.Fatalf("endpoints %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("endpoint %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestScrapeErrors(t *testing.T) {
	serve := func(status int, body string) Endpoint {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return Endpoint{Pod: "p", Address: strings.TrimPrefix(srv.URL, "http://")}
	}
	for _, tc := range []struct {
		name string
		ep   Endpoint
		s    Scraper
		want string
	}{
		{"error status", serve(http.StatusServiceUnavailable, "down"), Scraper{}, "503"},
		{"not the runtime", serve(http.StatusOK, "up 1\n"), Scraper{}, "not a dllm-runtime"},
		{"not metrics", serve(http.StatusOK, "<html>"), Scraper{}, "parse metrics"},
		{"too large", serve(http.StatusOK, strings.Repeat("# c\n", 100)), Scraper{MaxBytes: 64}, "larger than 64 bytes"},
		{"unreachable", Endpoint{Pod: "p", Address: "127.0.0.1:1"}, Scraper{Timeout: time.Second}, "scrape p"},
	} {
		if _, err := tc.s.Scrape(context.Background(), tc.ep); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// Parse takes metrics from whatever answers at a pod's address: it must never panic, and what
// it accepts must be usable.
func FuzzParse(f *testing.F) {
	p := &pod{m: telemetry.New(func() engine.Load { return engine.Load{} })}
	p.gen = p.m.SetCacheSettings(&featcache.Settings{PromptInterval: 4, ResponseInterval: 2, TransferRatio: 0.5})
	p.serve(3, time.Second, 5, 5, 4, 0.9)
	rec := httptest.NewRecorder()
	p.m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	f.Add(rec.Body.String())
	f.Add("dllm_request_duration_seconds_bucket{le=\"+Inf\"} 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(strings.NewReader(text))
		if err != nil {
			return
		}
		_ = s.Latency.Quantile(0.95)
		_ = s.Latency.Variance()
		if len(s.Latency.Bounds) != len(s.Latency.Counts) {
			t.Fatalf("histogram with %d bounds and %d counts", len(s.Latency.Bounds), len(s.Latency.Counts))
		}
	})
}
