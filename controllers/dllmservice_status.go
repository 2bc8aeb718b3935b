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
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/utils/ptr"

	"dllm.dev/dllm-operator/api/v1alpha1"
	acv1alpha1 "dllm.dev/dllm-operator/api/v1alpha1/applyconfiguration/api/v1alpha1"
	"dllm.dev/dllm-operator/controllers/autotune"
	"dllm.dev/dllm-operator/controllers/render"
)

// observation is what one reconcile learned about a DLLMService's world.
type observation struct {
	// deployment is the runtime Deployment as the cache holds it, nil when it does not exist.
	deployment *appsv1.Deployment
	// renderErr is set when the spec cannot be rendered (a permanent error until the spec changes).
	renderErr error
	// applyErr is set when applying the children failed (retried).
	applyErr error
	// pods are the runtime Pods (any spec), for the phase of those not ready yet.
	pods []corev1.Pod
	// tuned is the tuner's step, nil unless spec.cache.mode is Autotune and a tuner runs.
	tuned *tuneResult
}

// computeStatus derives svc's status from what the reconcile observed. It is pure: the existing
// conditions are consulted only to keep their lastTransitionTime when their status is unchanged,
// and now stamps the ones that change.
func computeStatus(svc *v1alpha1.DLLMService, obs observation, now metav1.Time) v1alpha1.DLLMServiceStatus {
	st := v1alpha1.DLLMServiceStatus{
		ObservedGeneration: svc.Generation,
		Selector:           render.Selector(svc),
		Endpoint:           render.Endpoint(svc),
		Cache: v1alpha1.CacheStatus{
			Active: render.CacheSettings(svc),
			Source: v1alpha1.CacheSettingsSourceSpec,
		},
	}
	if obs.applyErr != nil {
		// The current generation is not in effect yet; keep reporting the last one that was.
		st.ObservedGeneration = svc.Status.ObservedGeneration
	}
	if dep := obs.deployment; dep != nil {
		st.Replicas = dep.Status.Replicas
		st.ReadyReplicas = dep.Status.ReadyReplicas
	}

	ready, progressing, degraded := conditionsFor(obs)
	set := []metav1.Condition{ready, progressing, degraded}
	conds := append([]metav1.Condition(nil), svc.Status.Conditions...)
	if t := obs.tuned; t != nil {
		st.Cache.Autotune = &t.status
		if t.apply {
			st.Cache.Active, st.Cache.Source = t.active, v1alpha1.CacheSettingsSourceAutotune
		}
		set = append(set, tunerConditions(t.status)...)
	} else {
		meta.RemoveStatusCondition(&conds, v1alpha1.ConditionCacheTuned)
		meta.RemoveStatusCondition(&conds, v1alpha1.ConditionQualityDegraded)
	}
	for _, c := range set {
		c.ObservedGeneration = svc.Generation
		c.LastTransitionTime = now
		meta.SetStatusCondition(&conds, c)
	}
	st.Conditions = conds
	return st
}

// tunerConditions are CacheTuned and QualityDegraded for the tuner's status.
func tunerConditions(a v1alpha1.AutotuneStatus) []metav1.Condition {
	best := "none yet"
	if a.Best != nil {
		best = fmt.Sprintf("K_p=%d K_r=%d rho=%d%%", a.Best.PromptRefreshInterval, a.Best.ResponseRefreshInterval, ptr.Deref(a.Best.TransferPercent, 0))
	}
	var tuned metav1.Condition
	switch a.Phase {
	case v1alpha1.AutotunePhaseConverged:
		tuned = condition(v1alpha1.ConditionCacheTuned, yes, "Converged", "Converged on %s.", best)
	case v1alpha1.AutotunePhaseFrozen:
		tuned = condition(v1alpha1.ConditionCacheTuned, no, "Frozen", "The %s annotation stops the tuner; keeping %s.", v1alpha1.AnnotationAutotuneFreeze, best)
	case v1alpha1.AutotunePhaseExploring:
		tuned = condition(v1alpha1.ConditionCacheTuned, no, "Exploring", "Exploring from %s.", best)
	default:
		tuned = condition(v1alpha1.ConditionCacheTuned, no, "Waiting", "Waiting for a window of requests with shadow samples from ready Pods.")
	}
	degraded := condition(v1alpha1.ConditionQualityDegraded, no, "AboveFloor", "The settings in force hold the quality floor, or are being measured.")
	if n := len(a.LastDecisions); n > 0 {
		if d := a.LastDecisions[n-1]; d.Action == string(autotune.ActionRevert) && settingsOf(d.From) == settingsOf(d.To) {
			degraded = condition(v1alpha1.ConditionQualityDegraded, yes, "BelowFloor", "%s", d.Reason)
		}
	}
	return []metav1.Condition{tuned, degraded}
}

func condition(typ string, status metav1.ConditionStatus, reason, format string, args ...any) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// conditionsFor returns the Ready, Progressing and Degraded conditions for what was observed.
func conditionsFor(obs observation) (ready, progressing, degraded metav1.Condition) {
	if obs.renderErr != nil {
		msg := obs.renderErr.Error()
		return condition(v1alpha1.ConditionReady, no, v1alpha1.ReasonInvalidSpec, "%s", msg),
			condition(v1alpha1.ConditionProgressing, no, v1alpha1.ReasonInvalidSpec, "%s", msg),
			condition(v1alpha1.ConditionDegraded, yes, v1alpha1.ReasonInvalidSpec, "%s", msg)
	}
	dep := obs.deployment
	if dep == nil || dep.Status.ObservedGeneration < dep.Generation {
		return condition(v1alpha1.ConditionReady, no, v1alpha1.ReasonDeploymentPending, "The runtime Deployment has not observed the latest spec yet."),
			condition(v1alpha1.ConditionProgressing, yes, v1alpha1.ReasonDeploymentPending, "Waiting for the runtime Deployment to observe the latest spec."),
			degradedCondition(obs.applyErr, nil)
	}
	r := summarize(dep)
	r.phase = podsPhase(obs.pods)
	return readyCondition(r), progressingCondition(r), degradedCondition(obs.applyErr, &r)
}

// podPhase is where the runtime Pods that are not ready yet stand: a reason of ReasonPullFailed,
// ReasonDownloading or ReasonLoading, and a message naming a Pod; empty when none says more
// than the Deployment does.
type podPhase struct {
	reason, message string
}

// podsPhase reports the most pressing phase among pods: a failed pull, then a pull under way,
// then a runtime loading its weights.
func podsPhase(pods []corev1.Pod) podPhase {
	rank := map[string]int{v1alpha1.ReasonPullFailed: 3, v1alpha1.ReasonDownloading: 2, v1alpha1.ReasonLoading: 1}
	var best podPhase
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if ph := phaseOf(&p); rank[ph.reason] > rank[best.reason] {
			best = ph
		}
	}
	return best
}

// phaseOf reads one Pod's container statuses.
func phaseOf(p *corev1.Pod) podPhase {
	for _, c := range p.Status.InitContainerStatuses {
		if c.Name != render.PullContainerName {
			continue
		}
		failed := c.State.Terminated
		if failed == nil && c.State.Waiting != nil {
			failed = c.LastTerminationState.Terminated
		}
		switch {
		case failed != nil && failed.ExitCode != 0:
			return podPhase{v1alpha1.ReasonPullFailed, fmt.Sprintf("Pulling the weights failed in Pod %s (exit code %d, %d restarts): %s",
				p.Name, failed.ExitCode, c.RestartCount, strings.TrimSpace(failed.Message))}
		case c.State.Running != nil:
			return podPhase{v1alpha1.ReasonDownloading, fmt.Sprintf("Pod %s is pulling the weights.", p.Name)}
		case c.State.Terminated == nil:
			return podPhase{} // not started yet
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running != nil && !c.Ready {
			return podPhase{v1alpha1.ReasonLoading, fmt.Sprintf("Pod %s is loading the weights and warming up.", p.Name)}
		}
	}
	return podPhase{}
}

const (
	yes = metav1.ConditionTrue
	no  = metav1.ConditionFalse
)

// rollout summarises a runtime Deployment whose controller has observed its latest spec.
type rollout struct {
	status           appsv1.DeploymentStatus
	desired          int32
	counts           string // a human summary of the replica counts
	rolledOut        bool   // every Pod runs the current spec, and no old Pod is left
	progressing      *appsv1.DeploymentCondition
	deadlineExceeded bool
	replicaFailure   *appsv1.DeploymentCondition
	phase            podPhase // of the Pods not ready yet
}

func summarize(dep *appsv1.Deployment) rollout {
	r := rollout{status: dep.Status, desired: 1}
	if dep.Spec.Replicas != nil {
		r.desired = *dep.Spec.Replicas
	}
	s := dep.Status
	r.counts = fmt.Sprintf("%d of %d desired replicas updated, %d available, %d ready.", s.UpdatedReplicas, r.desired, s.AvailableReplicas, s.ReadyReplicas)
	r.rolledOut = s.UpdatedReplicas == r.desired && s.Replicas == r.desired
	r.progressing = deploymentCondition(dep, appsv1.DeploymentProgressing)
	r.deadlineExceeded = r.progressing != nil && r.progressing.Reason == "ProgressDeadlineExceeded"
	if c := deploymentCondition(dep, appsv1.DeploymentReplicaFailure); c != nil && c.Status == corev1.ConditionTrue {
		r.replicaFailure = c
	}
	return r
}

func readyCondition(r rollout) metav1.Condition {
	switch {
	case r.desired == 0:
		return condition(v1alpha1.ConditionReady, no, v1alpha1.ReasonScaledToZero, "Zero replicas are desired.")
	case r.rolledOut && r.status.AvailableReplicas > 0:
		return condition(v1alpha1.ConditionReady, yes, v1alpha1.ReasonAvailable, "%s", r.counts)
	case r.phase.reason != "":
		return condition(v1alpha1.ConditionReady, no, r.phase.reason, "%s %s", r.phase.message, r.counts)
	default:
		return condition(v1alpha1.ConditionReady, no, v1alpha1.ReasonNoReadyReplicas, "No runtime Pod of the current spec is available yet: %s", r.counts)
	}
}

func progressingCondition(r rollout) metav1.Condition {
	switch {
	case r.deadlineExceeded:
		return condition(v1alpha1.ConditionProgressing, no, v1alpha1.ReasonProgressDeadlineExceeded, "%s", r.progressing.Message)
	case r.desired == 0 && r.status.Replicas == 0:
		return condition(v1alpha1.ConditionProgressing, no, v1alpha1.ReasonScaledToZero, "Zero replicas are desired.")
	case r.rolledOut && r.status.AvailableReplicas == r.desired:
		return condition(v1alpha1.ConditionProgressing, no, v1alpha1.ReasonRolloutComplete, "%s", r.counts)
	default:
		return condition(v1alpha1.ConditionProgressing, yes, v1alpha1.ReasonRolloutInProgress, "%s", r.counts)
	}
}

// degradedCondition reports a failed apply first, then what the Deployment says; r is nil while
// the Deployment has not observed the latest spec.
func degradedCondition(applyErr error, r *rollout) metav1.Condition {
	switch {
	case applyErr != nil:
		return condition(v1alpha1.ConditionDegraded, yes, v1alpha1.ReasonApplyFailed, "%s", applyErr.Error())
	case r == nil:
	case r.deadlineExceeded:
		return condition(v1alpha1.ConditionDegraded, yes, v1alpha1.ReasonProgressDeadlineExceeded, "%s", r.progressing.Message)
	case r.replicaFailure != nil:
		return condition(v1alpha1.ConditionDegraded, yes, v1alpha1.ReasonReplicaFailure, "%s", r.replicaFailure.Message)
	case r.phase.reason == v1alpha1.ReasonPullFailed:
		return condition(v1alpha1.ConditionDegraded, yes, v1alpha1.ReasonPullFailed, "%s", r.phase.message)
	case r.rolledOut && r.status.AvailableReplicas < r.desired && r.progressing != nil && r.progressing.Reason == "NewReplicaSetAvailable":
		// The rollout finished earlier and Pods have since become unavailable.
		return condition(v1alpha1.ConditionDegraded, yes, v1alpha1.ReasonReplicasUnavailable, "%s", r.counts)
	}
	return condition(v1alpha1.ConditionDegraded, no, v1alpha1.ReasonAsExpected, "")
}

func deploymentCondition(dep *appsv1.Deployment, typ appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range dep.Status.Conditions {
		if dep.Status.Conditions[i].Type == typ {
			return &dep.Status.Conditions[i]
		}
	}
	return nil
}

// Event actions.
const (
	actionRollout   = "Rollout"
	actionReconcile = "Reconcile"
)

// event is a Kubernetes event to record for a condition transition.
type event struct {
	eventType, reason, action, note string
}

// transitionEvents returns the events worth a human's attention between two sets of conditions:
// Ready becoming True or False, Degraded becoming True, and a rollout completing. Nothing is
// returned when no condition changed status, so steady reconciles stay silent.
func transitionEvents(before, after []metav1.Condition) []event {
	changed := func(typ string) (*metav1.Condition, bool) {
		now := meta.FindStatusCondition(after, typ)
		old := meta.FindStatusCondition(before, typ)
		if now == nil {
			return nil, false
		}
		return now, old == nil || old.Status != now.Status || old.Reason != now.Reason
	}
	var events []event
	if c, ok := changed(v1alpha1.ConditionReady); ok {
		if c.Status == metav1.ConditionTrue {
			events = append(events, event{corev1.EventTypeNormal, c.Reason, actionRollout, c.Message})
		} else if old := meta.FindStatusCondition(before, v1alpha1.ConditionReady); old != nil && old.Status == metav1.ConditionTrue {
			events = append(events, event{corev1.EventTypeWarning, c.Reason, actionRollout, c.Message})
		}
	}
	if c, ok := changed(v1alpha1.ConditionDegraded); ok && c.Status == metav1.ConditionTrue {
		events = append(events, event{corev1.EventTypeWarning, c.Reason, actionReconcile, c.Message})
	}
	if c, ok := changed(v1alpha1.ConditionProgressing); ok && c.Reason == v1alpha1.ReasonRolloutComplete {
		events = append(events, event{corev1.EventTypeNormal, c.Reason, actionRollout, c.Message})
	}
	return events
}

// statusApplyConfiguration is st as a server-side apply configuration of svc's status subresource.
func statusApplyConfiguration(svc *v1alpha1.DLLMService, st v1alpha1.DLLMServiceStatus) *acv1alpha1.DLLMServiceApplyConfiguration {
	conds := make([]*metav1ac.ConditionApplyConfiguration, 0, len(st.Conditions))
	for _, c := range st.Conditions {
		conds = append(conds, metav1ac.Condition().
			WithType(c.Type).WithStatus(c.Status).WithReason(c.Reason).WithMessage(c.Message).
			WithObservedGeneration(c.ObservedGeneration).WithLastTransitionTime(c.LastTransitionTime))
	}
	cache := acv1alpha1.CacheStatus().WithActive(settingsApplyConfiguration(st.Cache.Active)).WithSource(st.Cache.Source)
	if a := st.Cache.Autotune; a != nil {
		cache.WithAutotune(autotuneApplyConfiguration(a))
	}
	return acv1alpha1.DLLMService(svc.Name, svc.Namespace).
		WithStatus(acv1alpha1.DLLMServiceStatus().
			WithConditions(conds...).
			WithObservedGeneration(st.ObservedGeneration).
			WithReplicas(st.Replicas).
			WithReadyReplicas(st.ReadyReplicas).
			WithSelector(st.Selector).
			WithEndpoint(st.Endpoint).
			WithCache(cache))
}

func settingsApplyConfiguration(s v1alpha1.CacheSettings) *acv1alpha1.CacheSettingsApplyConfiguration {
	ac := acv1alpha1.CacheSettings().WithMode(s.Mode)
	if s.Mode != v1alpha1.CacheModeOff {
		ac.WithPromptRefreshInterval(s.PromptRefreshInterval).WithResponseRefreshInterval(s.ResponseRefreshInterval).
			WithTransferPercent(ptr.Deref(s.TransferPercent, 0))
	}
	return ac
}

func autotuneApplyConfiguration(a *v1alpha1.AutotuneStatus) *acv1alpha1.AutotuneStatusApplyConfiguration {
	ac := acv1alpha1.AutotuneStatus().WithPhase(a.Phase)
	if a.Best != nil {
		ac.WithBest(settingsApplyConfiguration(*a.Best))
	}
	if a.Candidate != nil {
		ac.WithCandidate(settingsApplyConfiguration(*a.Candidate))
	}
	if o := a.Observed; o != nil {
		obs := acv1alpha1.AutotuneObservation().WithSettings(settingsApplyConfiguration(o.Settings)).
			WithPods(o.Pods).WithRequests(o.Requests).WithShadowSamples(o.ShadowSamples).
			WithAgreementPermille(o.AgreementPermille).WithTokensPerSecond(o.TokensPerSecond).
			WithSaturationPermille(o.SaturationPermille)
		if o.MeanLatency != nil {
			obs.WithMeanLatency(*o.MeanLatency)
		}
		if o.P95Latency != nil {
			obs.WithP95Latency(*o.P95Latency)
		}
		ac.WithObserved(obs)
	}
	for _, d := range a.LastDecisions {
		ac.WithLastDecisions(acv1alpha1.AutotuneDecision().WithTime(d.Time).WithAction(d.Action).
			WithFrom(settingsApplyConfiguration(d.From)).WithTo(settingsApplyConfiguration(d.To)).WithReason(d.Reason))
	}
	return ac
}
