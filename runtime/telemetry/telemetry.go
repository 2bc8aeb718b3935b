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

// Package telemetry owns the runtime's Prometheus metrics: their registry, the names fixed in
// runtime/contract (base units, bounded labels, none carrying a request or a prompt), and the
// recording calls the engine (as its Observer) and the server make.
package telemetry

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/runtime/engine"
	"dllm.dev/dllm-operator/runtime/featcache"
)

// labelGeneration is the label of the cache-settings generation.
const labelGeneration = "generation"

// Metrics records the runtime's measurements. It implements engine.Observer.
type Metrics struct {
	reg *prometheus.Registry

	requestDuration prometheus.Histogram
	queueWait       prometheus.Histogram
	forwardDuration prometheus.Histogram
	requestSteps    prometheus.Histogram
	generatedTokens prometheus.Counter
	refreshes       *prometheus.CounterVec
	recomputed      prometheus.Counter
	reused          prometheus.Counter
	flopsSpent      prometheus.Counter
	flopsSaved      prometheus.Counter
	settings        *prometheus.GaugeVec
	shadowRequests  *prometheus.CounterVec
	shadowCompared  *prometheus.CounterVec
	shadowAgreed    *prometheus.CounterVec

	mu         sync.Mutex
	generation int
}

var _ engine.Observer = (*Metrics)(nil)

// New registers the metrics; load reports the engine's queue and in-flight counts at scrape
// time.
func New(load func() engine.Load) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	latency := prometheus.ExponentialBucketsRange(0.005, 600, 20)
	m := &Metrics{
		reg: reg,
		requestDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: contract.MetricRequestDuration,
			Help: "End-to-end request latency in seconds, admission to result.", Buckets: latency}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: contract.MetricQueueWait,
			Help: "Seconds a request waited for a batch slot.", Buckets: latency}),
		forwardDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: contract.MetricForwardDuration,
			Help:    "Latency of one forward pass in seconds (a step's time over its passes).",
			Buckets: prometheus.ExponentialBucketsRange(0.0005, 30, 20)}),
		requestSteps: prometheus.NewHistogram(prometheus.HistogramOpts{Name: contract.MetricRequestSteps,
			Help: "Denoising steps per request.", Buckets: prometheus.ExponentialBuckets(1, 2, 13)}),
		generatedTokens: prometheus.NewCounter(prometheus.CounterOpts{Name: contract.MetricGeneratedTokens,
			Help: "Response tokens generated."}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: contract.MetricCacheRefreshes,
			Help: "Forward passes that refreshed a segment's cached features, by kind (prompt, response)."}, []string{"kind"}),
		recomputed: prometheus.NewCounter(prometheus.CounterOpts{Name: contract.MetricCacheTokensRecomputed,
			Help: "Token-layer pairs whose features were recomputed."}),
		reused: prometheus.NewCounter(prometheus.CounterOpts{Name: contract.MetricCacheTokensReused,
			Help: "Token-layer pairs whose cached features were reused."}),
		flopsSpent: prometheus.NewCounter(prometheus.CounterOpts{Name: contract.MetricFLOPsSpent,
			Help: "Floating-point operations executed by forward passes."}),
		flopsSaved: prometheus.NewCounter(prometheus.CounterOpts{Name: contract.MetricFLOPsSaved,
			Help: "Floating-point operations the feature cache avoided against the exact path."}),
		settings: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: contract.MetricCacheSettings,
			Help: "1 for the active cache settings and their generation."},
			[]string{"enabled", "prompt_interval", "response_interval", "transfer_percent", labelGeneration}),
	}
	gen := []string{labelGeneration}
	m.shadowRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: contract.MetricShadowRequests,
		Help: "Cached requests also computed without the cache, by cache-settings generation."}, gen)
	m.shadowCompared = prometheus.NewCounterVec(prometheus.CounterOpts{Name: contract.MetricShadowTokensCompared,
		Help: "Response tokens compared between cached and uncached results, by generation."}, gen)
	m.shadowAgreed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: contract.MetricShadowTokensAgreed,
		Help: "Compared response tokens that were equal, by generation."}, gen)
	reg.MustRegister(m.shadowRequests, m.shadowCompared, m.shadowAgreed)
	reg.MustRegister(m.requestDuration, m.queueWait, m.forwardDuration, m.requestSteps, m.generatedTokens,
		m.refreshes, m.recomputed, m.reused, m.flopsSpent, m.flopsSaved, m.settings,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: contract.MetricQueueDepth, Help: "Requests waiting for a batch slot."},
			func() float64 { return float64(load().Queued) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: contract.MetricInFlight, Help: "Requests being denoised."},
			func() float64 { return float64(load().InFlight) }))
	return m
}

// Gatherer returns the registry, for tests and for embedding in another handler.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Step records one denoising step of d over forwards passes.
func (m *Metrics) Step(d time.Duration, forwards int) {
	for range max(forwards, 1) {
		m.forwardDuration.Observe(d.Seconds() / float64(max(forwards, 1)))
	}
}

// Batch records a finished run's cache counts.
func (m *Metrics) Batch(b engine.BatchReport) {
	if !b.Cached {
		return
	}
	st := b.Stats
	m.refreshes.WithLabelValues("prompt").Add(float64(st.PromptRefreshes))
	m.refreshes.WithLabelValues("response").Add(float64(st.ResponseRefreshes))
	m.recomputed.Add(float64(st.RecomputedRows))
	m.reused.Add(float64(st.ReusedRows))
	m.flopsSpent.Add(float64(st.FLOPs))
	if saved := st.ExactFLOPs - st.FLOPs; saved > 0 {
		m.flopsSaved.Add(float64(saved))
	}
}

// Request records a finished request.
func (m *Metrics) Request(duration, wait time.Duration, steps, tokens int) {
	m.requestDuration.Observe(duration.Seconds())
	m.queueWait.Observe(wait.Seconds())
	m.requestSteps.Observe(float64(steps))
	m.generatedTokens.Add(float64(tokens))
}

// SetCacheSettings marks s (nil: the cache is off) as the active settings and returns their
// generation, which counts changes from 1.
func (m *Metrics) SetCacheSettings(s *featcache.Settings) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.generation++
	m.settings.Reset()
	labels := prometheus.Labels{"enabled": "false", "prompt_interval": "0", "response_interval": "0",
		"transfer_percent": "0", labelGeneration: strconv.Itoa(m.generation)}
	if s != nil {
		labels["enabled"] = "true"
		labels["prompt_interval"] = strconv.Itoa(s.PromptInterval)
		labels["response_interval"] = strconv.Itoa(s.ResponseInterval)
		labels["transfer_percent"] = strconv.Itoa(int(s.TransferRatio*100 + 0.5))
	}
	m.settings.With(labels).Set(1)
	return m.generation
}

// Shadow records one shadow comparison of a request served with the settings of generation:
// compared response tokens, of which agreed were equal.
func (m *Metrics) Shadow(generation, compared, agreed int) {
	g := strconv.Itoa(generation)
	m.shadowRequests.WithLabelValues(g).Inc()
	m.shadowCompared.WithLabelValues(g).Add(float64(compared))
	m.shadowAgreed.WithLabelValues(g).Add(float64(agreed))
}
