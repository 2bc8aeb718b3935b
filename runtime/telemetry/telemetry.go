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
	promptTokens    prometheus.Counter
	tokensPerSecond prometheus.Histogram
	refreshes       *prometheus.CounterVec
	recomputed      prometheus.Counter
	reused          prometheus.Counter
	flopsSpent      prometheus.Counter
	flopsSaved      prometheus.Counter
	settings        *prometheus.GaugeVec
	shadowRequests  *prometheus.CounterVec
	shadowCompared  *prometheus.CounterVec
	shadowAgreed    *prometheus.CounterVec
	shadowTokens    *prometheus.HistogramVec
	top1Compared    *prometheus.CounterVec
	top1Agreed      *prometheus.CounterVec
	top1Agreement   *prometheus.HistogramVec

	mu         sync.Mutex
	generation int
}

var _ engine.Observer = (*Metrics)(nil)

// New registers the metrics; load reports the engine's occupancy and load at scrape time.
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
		promptTokens: prometheus.NewCounter(prometheus.CounterOpts{Name: contract.MetricPromptTokens,
			Help: "Prompt tokens of finished requests."}),
		tokensPerSecond: prometheus.NewHistogram(prometheus.HistogramOpts{Name: contract.MetricTokensPerSecond,
			Help:    "A request's response tokens over its end-to-end latency.",
			Buckets: prometheus.ExponentialBucketsRange(1, 100000, 16)}),
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
	// Agreement lives near 1 when the cache is well tuned: the buckets are finest there.
	agreement := []float64{0.5, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97, 0.98, 0.99, 0.995, 1}
	m.shadowTokens = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: contract.MetricShadowTokenAgreement,
		Help: "Each shadow request's share of equal response tokens, by generation.", Buckets: agreement}, gen)
	m.top1Compared = prometheus.NewCounterVec(prometheus.CounterOpts{Name: contract.MetricShadowTop1Compared,
		Help: "Masked positions whose top-1 prediction at sampled passes was compared with the exact path's, by generation."}, gen)
	m.top1Agreed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: contract.MetricShadowTop1Agreed,
		Help: "Compared top-1 predictions that were equal, by generation."}, gen)
	m.top1Agreement = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: contract.MetricShadowTop1Agreement,
		Help: "Each shadow request's share of equal top-1 predictions at sampled passes, by generation.", Buckets: agreement}, gen)
	reg.MustRegister(m.shadowRequests, m.shadowCompared, m.shadowAgreed, m.shadowTokens, m.top1Compared, m.top1Agreed, m.top1Agreement)
	gauge := func(name, help string, value func(engine.Load) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return value(load()) })
	}
	reg.MustRegister(m.requestDuration, m.queueWait, m.forwardDuration, m.requestSteps, m.generatedTokens, m.promptTokens,
		m.tokensPerSecond, m.refreshes, m.recomputed, m.reused, m.flopsSpent, m.flopsSaved, m.settings,
		gauge(contract.MetricQueueDepth, "Requests waiting for a batch slot.",
			func(l engine.Load) float64 { return float64(l.Queued) }),
		gauge(contract.MetricInFlight, "Requests being denoised.",
			func(l engine.Load) float64 { return float64(l.InFlight) }),
		gauge(contract.MetricSlotUsage, "Requests being denoised over the most denoised at once (feature-cache slots in use).",
			func(l engine.Load) float64 { return float64(l.InFlight) / float64(max(l.Slots, 1)) }),
		gauge(contract.MetricPendingSteps, "Denoising row-steps admitted requests still need.",
			func(l engine.Load) float64 { return float64(l.PendingSteps) }),
		gauge(contract.MetricDemandRate, "Row-steps per second requested over the last 30 s, refused requests included.",
			func(l engine.Load) float64 { return l.DemandRate }),
		gauge(contract.MetricCapacityRate, "Row-steps per second delivered while busy over the last 30 s.",
			func(l engine.Load) float64 { return l.CapacityRate }),
		gauge(contract.MetricSaturation, "Demand over capacity in row-steps per second: above 1 the pod cannot keep up.",
			func(l engine.Load) float64 { return l.Saturation }))
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

// Batch records a finished run's FLOPs and cache counts; a run on the exact path adds its FLOPs
// to those spent and nothing else.
func (m *Metrics) Batch(b engine.BatchReport) {
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

// Request records a finished request of promptTokens that generated tokens.
func (m *Metrics) Request(duration, wait time.Duration, steps, promptTokens, tokens int) {
	m.requestDuration.Observe(duration.Seconds())
	m.queueWait.Observe(wait.Seconds())
	m.requestSteps.Observe(float64(steps))
	m.promptTokens.Add(float64(promptTokens))
	m.generatedTokens.Add(float64(tokens))
	if duration > 0 {
		m.tokensPerSecond.Observe(float64(tokens) / duration.Seconds())
	}
}

// SetCacheSettings marks s (nil: the cache is off) as the active settings and returns their
// generation, which counts changes from 1. The shadow series of generations older than the
// last contract.ShadowGenerationsKept are deleted.
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
	if old := m.generation - contract.ShadowGenerationsKept; old > 0 {
		g := strconv.Itoa(old)
		m.shadowRequests.DeleteLabelValues(g)
		m.shadowCompared.DeleteLabelValues(g)
		m.shadowAgreed.DeleteLabelValues(g)
		m.shadowTokens.DeleteLabelValues(g)
		m.top1Compared.DeleteLabelValues(g)
		m.top1Agreed.DeleteLabelValues(g)
		m.top1Agreement.DeleteLabelValues(g)
	}
	return m.generation
}

// ShadowResult is one shadow request's comparison with the exact path.
type ShadowResult struct {
	// Compared response tokens, of which Agreed were equal.
	Compared, Agreed int
	// Top1Compared masked positions at sampled passes, of which Top1Agreed had the same
	// top-1 prediction.
	Top1Compared, Top1Agreed int
}

// Shadow records one shadow comparison of a request served with the settings of generation.
// A result for a generation whose series were already deleted is dropped.
func (m *Metrics) Shadow(generation int, r ShadowResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if generation <= m.generation-contract.ShadowGenerationsKept {
		return
	}
	g := strconv.Itoa(generation)
	m.shadowRequests.WithLabelValues(g).Inc()
	if r.Compared > 0 {
		m.shadowCompared.WithLabelValues(g).Add(float64(r.Compared))
		m.shadowAgreed.WithLabelValues(g).Add(float64(r.Agreed))
		m.shadowTokens.WithLabelValues(g).Observe(float64(r.Agreed) / float64(r.Compared))
	}
	if r.Top1Compared > 0 {
		m.top1Compared.WithLabelValues(g).Add(float64(r.Top1Compared))
		m.top1Agreed.WithLabelValues(g).Add(float64(r.Top1Agreed))
		m.top1Agreement.WithLabelValues(g).Observe(float64(r.Top1Agreed) / float64(r.Top1Compared))
	}
}
