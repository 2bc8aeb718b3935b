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
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"dllm.dev/dllm-operator/controllers/autotune"
	"dllm.dev/dllm-operator/runtime/contract"
)

// Histogram is a cumulative Prometheus histogram: the count of observations at most each
// upper bound (the last bound is +Inf), their count and their sum.
type Histogram struct {
	Bounds []float64
	Counts []float64
	Count  float64
	Sum    float64
}

// sub returns h minus an earlier reading of the same histogram; false if a bucket or the count
// went down (the process restarted) or the buckets differ.
func (h Histogram) sub(old Histogram) (Histogram, bool) {
	if len(h.Bounds) != len(old.Bounds) || h.Count < old.Count {
		return Histogram{}, false
	}
	d := Histogram{Bounds: h.Bounds, Counts: make([]float64, len(h.Counts)), Count: h.Count - old.Count, Sum: h.Sum - old.Sum}
	for i := range h.Counts {
		if h.Bounds[i] != old.Bounds[i] || h.Counts[i] < old.Counts[i] {
			return Histogram{}, false
		}
		d.Counts[i] = h.Counts[i] - old.Counts[i]
	}
	return d, true
}

// add merges another histogram with the same buckets into h.
func (h *Histogram) add(o Histogram) {
	if len(h.Bounds) == 0 {
		*h = Histogram{Bounds: o.Bounds, Counts: append([]float64(nil), o.Counts...), Count: o.Count, Sum: o.Sum}
		return
	}
	for i := range h.Counts {
		h.Counts[i] += o.Counts[i]
	}
	h.Count += o.Count
	h.Sum += o.Sum
}

// Quantile estimates the q-quantile by linear interpolation within the bucket that holds it, as
// PromQL's histogram_quantile does (the +Inf bucket answers its lower bound).
func (h Histogram) Quantile(q float64) float64 {
	if h.Count == 0 || len(h.Bounds) == 0 {
		return math.NaN()
	}
	rank := q * h.Count
	lower, below := 0.0, 0.0
	for i, upper := range h.Bounds {
		if h.Counts[i] >= rank {
			if math.IsInf(upper, 1) {
				return lower
			}
			in := h.Counts[i] - below
			if in == 0 {
				return upper
			}
			return lower + (upper-lower)*(rank-below)/in
		}
		lower, below = upper, h.Counts[i]
	}
	return lower
}

// Variance estimates the variance of the observations from the buckets, each bucket's
// observations at its midpoint (its upper bound for the first, its lower bound for +Inf), with
// the mean taken from the exact sum.
func (h Histogram) Variance() float64 {
	if h.Count < 2 {
		return 0
	}
	mean := h.Sum / h.Count
	var sq, lower, below float64
	for i, upper := range h.Bounds {
		n := h.Counts[i] - below
		mid := (lower + upper) / 2
		switch {
		case i == 0:
			mid = upper
		case math.IsInf(upper, 1):
			mid = lower
		}
		sq += n * (mid - mean) * (mid - mean)
		lower, below = upper, h.Counts[i]
	}
	return sq / h.Count
}

// Shadow is one settings generation's shadow comparisons: each shadow request's share of equal
// response tokens.
type Shadow struct {
	Agreement Histogram
}

// Sample is one scrape of one runtime pod, reduced to what tuning and scaling read.
type Sample struct {
	// Generation counts the pod's cache-settings changes; Enabled and Settings are the active
	// ones.
	Generation int
	Enabled    bool
	Settings   autotune.Settings
	// Latency is the request-duration histogram, in seconds.
	Latency Histogram
	// Forwards counts forward passes; PromptTokens and Generated count the tokens of finished
	// requests.
	Forwards, PromptTokens, Generated float64
	// Shadow holds the shadow comparisons by settings generation.
	Shadow map[int]Shadow
	// Saturation is demand over capacity; QueueDepth the requests waiting.
	Saturation, QueueDepth float64
}

// Parse reads a /metrics response in the Prometheus text format into a Sample. Families the
// sample needs and the runtime always exports (request latency, forward passes, the active
// settings) must be there; a scrape of something that is not the runtime is an error.
func Parse(r io.Reader) (Sample, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return Sample{}, fmt.Errorf("parse metrics: %w", err)
	}
	var s Sample
	latency, ok := families[contract.MetricRequestDuration]
	if !ok || len(latency.GetMetric()) != 1 || latency.GetMetric()[0].GetHistogram() == nil {
		return Sample{}, fmt.Errorf("no %s histogram: not a dllm-runtime", contract.MetricRequestDuration)
	}
	s.Latency = histogram(latency.GetMetric()[0].GetHistogram())
	forwards, ok := families[contract.MetricForwardDuration]
	if !ok || len(forwards.GetMetric()) != 1 {
		return Sample{}, fmt.Errorf("no %s histogram: not a dllm-runtime", contract.MetricForwardDuration)
	}
	s.Forwards = float64(forwards.GetMetric()[0].GetHistogram().GetSampleCount())
	if err := s.settings(families[contract.MetricCacheSettings]); err != nil {
		return Sample{}, err
	}
	s.PromptTokens = scalar(families[contract.MetricPromptTokens])
	s.Generated = scalar(families[contract.MetricGeneratedTokens])
	s.Saturation = scalar(families[contract.MetricSaturation])
	s.QueueDepth = scalar(families[contract.MetricQueueDepth])
	if f := families[contract.MetricShadowTokenAgreement]; f != nil {
		s.Shadow = map[int]Shadow{}
		for _, m := range f.GetMetric() {
			gen, err := strconv.Atoi(label(m, "generation"))
			if err != nil || m.GetHistogram() == nil {
				return Sample{}, fmt.Errorf("%s: a series without a numeric generation", contract.MetricShadowTokenAgreement)
			}
			s.Shadow[gen] = Shadow{Agreement: histogram(m.GetHistogram())}
		}
	}
	return s, nil
}

// settings reads the active settings from the one series of the settings info gauge.
func (s *Sample) settings(f *dto.MetricFamily) error {
	if f == nil || len(f.GetMetric()) != 1 {
		return fmt.Errorf("want exactly one %s series", contract.MetricCacheSettings)
	}
	m := f.GetMetric()[0]
	var err error
	num := func(name string) int32 {
		v, e := strconv.ParseInt(label(m, name), 10, 32)
		err = errors.Join(err, e)
		return int32(v)
	}
	s.Generation = int(num("generation"))
	s.Enabled = label(m, "enabled") == "true"
	s.Settings = autotune.Settings{PromptInterval: num("prompt_interval"), ResponseInterval: num("response_interval"),
		TransferPercent: num("transfer_percent")}
	if err != nil {
		return fmt.Errorf("%s labels: %w", contract.MetricCacheSettings, err)
	}
	return nil
}

func histogram(h *dto.Histogram) Histogram {
	out := Histogram{Count: float64(h.GetSampleCount()), Sum: h.GetSampleSum()}
	for _, b := range h.GetBucket() {
		out.Bounds = append(out.Bounds, b.GetUpperBound())
		out.Counts = append(out.Counts, float64(b.GetCumulativeCount()))
	}
	// The text format lists +Inf; keep it explicit so Quantile and Variance see every count.
	if n := len(out.Bounds); n == 0 || !math.IsInf(out.Bounds[n-1], 1) {
		out.Bounds = append(out.Bounds, math.Inf(1))
		out.Counts = append(out.Counts, out.Count)
	}
	return out
}

// scalar is the value of a family's single counter or gauge series (0 if absent).
func scalar(f *dto.MetricFamily) float64 {
	if f == nil || len(f.GetMetric()) == 0 {
		return 0
	}
	m := f.GetMetric()[0]
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
