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

package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/controllers/autotune"
)

// Names of the operator's own metrics. The manager serves them on its metrics endpoint, beside
// controller-runtime's. Their namespace and service labels name the DLLMService; a Prometheus
// that scrapes the manager with honor_labels off keeps them as exported_namespace and
// exported_service (config/observability/README.md).
const (
	// MetricAutotuneDecisions counts the cache tuner's decisions by DLLMService and action
	// (Explore, Accept, Reject, Revert, Converge, Reexplore): the ones status lists in
	// cache.autotune.lastDecisions, counted each time the tuner makes one. In Recommend mode the
	// Pods keep the spec's settings, so the tuner recommends the same candidate again each
	// window, and each recommendation counts.
	MetricAutotuneDecisions = "dllm_operator_autotune_decisions_total"
	// MetricAutotunePhase is a gauge per DLLMService and tuner phase (Waiting, Exploring,
	// Converged, Frozen): 1 for the phase status reports, 0 for the others.
	MetricAutotunePhase = "dllm_operator_autotune_phase"
)

// Labels of the operator's metrics.
const (
	labelNamespace = "namespace"
	labelService   = "service"
	labelAction    = "action"
	labelPhase     = "phase"
)

// decisionActions are the actions the tuner records in status and counts: all but Measure, Hold
// and Ignore. Their series start at 0 with a service's tuner, so that increase() counts the first
// decision of each too (a series that appears at 1 hides its first increment).
var decisionActions = []autotune.Action{autotune.ActionExplore, autotune.ActionAccept, autotune.ActionReject,
	autotune.ActionRevert, autotune.ActionConverge, autotune.ActionReexplore}

// autotunePhases are the values of the phase label.
var autotunePhases = []v1alpha1.AutotunePhase{v1alpha1.AutotunePhaseWaiting, v1alpha1.AutotunePhaseExploring,
	v1alpha1.AutotunePhaseConverged, v1alpha1.AutotunePhaseFrozen}

// Metrics records the tuner's metrics. A nil *Metrics records nothing.
type Metrics struct {
	decisions *prometheus.CounterVec
	phase     *prometheus.GaugeVec
}

// NewMetrics registers the operator's metrics with reg. The manager passes controller-runtime's
// metrics.Registry, which its metrics endpoint serves; tests pass a registry of their own.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricAutotuneDecisions,
			Help: "Decisions of the cache tuner, by DLLMService and action."},
			[]string{labelNamespace, labelService, labelAction}),
		phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricAutotunePhase,
			Help: "1 for the cache tuner's current phase of a DLLMService, 0 for the other phases."},
			[]string{labelNamespace, labelService, labelPhase}),
	}
	reg.MustRegister(m.decisions, m.phase)
	return m
}

// start creates the decision series of name's tuner at 0.
func (m *Metrics) start(name types.NamespacedName) {
	if m == nil {
		return
	}
	for _, a := range decisionActions {
		m.decisions.WithLabelValues(name.Namespace, name.Name, string(a))
	}
}

// decision counts one decision of name's tuner.
func (m *Metrics) decision(name types.NamespacedName, a autotune.Action) {
	if m == nil {
		return
	}
	m.decisions.WithLabelValues(name.Namespace, name.Name, string(a)).Inc()
}

// setPhase marks phase as the current phase of name's tuner.
func (m *Metrics) setPhase(name types.NamespacedName, phase v1alpha1.AutotunePhase) {
	if m == nil {
		return
	}
	for _, p := range autotunePhases {
		v := 0.0
		if p == phase {
			v = 1
		}
		m.phase.WithLabelValues(name.Namespace, name.Name, string(p)).Set(v)
	}
}

// forgetPhase deletes the phase series of name, whose tuner no longer runs.
func (m *Metrics) forgetPhase(name types.NamespacedName) {
	if m == nil {
		return
	}
	m.phase.DeletePartialMatch(prometheus.Labels{labelNamespace: name.Namespace, labelService: name.Name})
}

// forget deletes every series of name, a deleted DLLMService.
func (m *Metrics) forget(name types.NamespacedName) {
	if m == nil {
		return
	}
	m.forgetPhase(name)
	m.decisions.DeletePartialMatch(prometheus.Labels{labelNamespace: name.Namespace, labelService: name.Name})
}
