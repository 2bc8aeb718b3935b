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
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dllm.dev/dllm-operator/api/v1alpha1"
)

func testService() *v1alpha1.DLLMService {
	return &v1alpha1.DLLMService{
		ObjectMeta: metav1.ObjectMeta{Name: "llada", Namespace: "ns", Generation: 4},
		Spec: v1alpha1.DLLMServiceSpec{
			Model: v1alpha1.ModelSpec{Family: v1alpha1.ModelFamilyLLaDA, Source: "hf://a/b"},
		},
		Status: v1alpha1.DLLMServiceStatus{ObservedGeneration: 3},
	}
}

// deployment builds a runtime Deployment whose controller has observed its latest spec.
func deployment(desired, replicas, updated, available int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Generation: 2},
		Spec:       appsv1.DeploymentSpec{Replicas: new(desired)},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: 2, Replicas: replicas, UpdatedReplicas: updated,
			AvailableReplicas: available, ReadyReplicas: available, Conditions: conds,
		},
	}
}

var (
	newRSAvailable = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}
	deadline       = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "timed out"}
	quota          = appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: "exceeded quota"}
)

// pullRunning is a runtime Pod whose pull init container runs.
func pullRunning(name string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "pull", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	return p
}

// pullFailed is a runtime Pod whose pull failed and waits to be retried.
func pullFailed(name string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "pull", RestartCount: 2,
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: "hub: unauthorized: check the token\n"}}}}
	return p
}

// loading is a runtime Pod past its pull whose runtime container is not ready yet.
func loading(name string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "pull", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "runtime", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	return p
}

// A failed pull's message reaches the status with the Pod's name and the pull's own words.
func TestPullFailedMessage(t *testing.T) {
	r, _, d := conditionsFor(observation{deployment: deployment(1, 1, 1, 0), pods: []corev1.Pod{pullFailed("llada-7f9c-x2")}})
	for _, c := range []metav1.Condition{r, d} {
		if !strings.Contains(c.Message, "llada-7f9c-x2") || !strings.Contains(c.Message, "check the token") || !strings.Contains(c.Message, "2 restarts") {
			t.Errorf("%s message %q, want the Pod, the restarts and the pull's error", c.Type, c.Message)
		}
	}
}

func TestConditionsFor(t *testing.T) {
	stale := deployment(1, 1, 1, 1)
	stale.Generation = 3
	tests := []struct {
		name                    string
		obs                     observation
		ready, progress, degrad string // reasons
		readyTrue, progressTrue bool
		degradedTrue            bool
	}{
		{"invalid spec", observation{renderErr: errors.New("spec.model.source: bad")},
			v1alpha1.ReasonInvalidSpec, v1alpha1.ReasonInvalidSpec, v1alpha1.ReasonInvalidSpec, false, false, true},
		{"no deployment yet", observation{},
			v1alpha1.ReasonDeploymentPending, v1alpha1.ReasonDeploymentPending, v1alpha1.ReasonAsExpected, false, true, false},
		{"apply failed", observation{applyErr: errors.New("forbidden")},
			v1alpha1.ReasonDeploymentPending, v1alpha1.ReasonDeploymentPending, v1alpha1.ReasonApplyFailed, false, true, true},
		{"deployment not observed", observation{deployment: stale},
			v1alpha1.ReasonDeploymentPending, v1alpha1.ReasonDeploymentPending, v1alpha1.ReasonAsExpected, false, true, false},
		{"pods starting", observation{deployment: deployment(2, 2, 2, 0)},
			v1alpha1.ReasonNoReadyReplicas, v1alpha1.ReasonRolloutInProgress, v1alpha1.ReasonAsExpected, false, true, false},
		{"partly available", observation{deployment: deployment(2, 2, 2, 1)},
			v1alpha1.ReasonAvailable, v1alpha1.ReasonRolloutInProgress, v1alpha1.ReasonAsExpected, true, true, false},
		{"old pods still running", observation{deployment: deployment(2, 3, 1, 2)},
			v1alpha1.ReasonNoReadyReplicas, v1alpha1.ReasonRolloutInProgress, v1alpha1.ReasonAsExpected, false, true, false},
		{"rolled out", observation{deployment: deployment(2, 2, 2, 2, newRSAvailable)},
			v1alpha1.ReasonAvailable, v1alpha1.ReasonRolloutComplete, v1alpha1.ReasonAsExpected, true, false, false},
		{"replica lost after rollout", observation{deployment: deployment(2, 2, 2, 1, newRSAvailable)},
			v1alpha1.ReasonAvailable, v1alpha1.ReasonRolloutInProgress, v1alpha1.ReasonReplicasUnavailable, true, true, true},
		{"deadline exceeded", observation{deployment: deployment(2, 3, 1, 2, deadline)},
			v1alpha1.ReasonNoReadyReplicas, v1alpha1.ReasonProgressDeadlineExceeded, v1alpha1.ReasonProgressDeadlineExceeded, false, false, true},
		{"quota", observation{deployment: deployment(2, 0, 0, 0, quota)},
			v1alpha1.ReasonNoReadyReplicas, v1alpha1.ReasonRolloutInProgress, v1alpha1.ReasonReplicaFailure, false, true, true},
		{"scaled to zero", observation{deployment: deployment(0, 0, 0, 0)},
			v1alpha1.ReasonScaledToZero, v1alpha1.ReasonScaledToZero, v1alpha1.ReasonAsExpected, false, false, false},
		{"downloading", observation{deployment: deployment(2, 2, 2, 0), pods: []corev1.Pod{pullRunning("a"), loading("b")}},
			v1alpha1.ReasonDownloading, v1alpha1.ReasonRolloutInProgress, v1alpha1.ReasonAsExpected, false, true, false},
		{"loading", observation{deployment: deployment(1, 1, 1, 0), pods: []corev1.Pod{loading("a")}},
			v1alpha1.ReasonLoading, v1alpha1.ReasonRolloutInProgress, v1alpha1.ReasonAsExpected, false, true, false},
		{"pull failed", observation{deployment: deployment(2, 2, 2, 0), pods: []corev1.Pod{pullRunning("a"), pullFailed("b")}},
			v1alpha1.ReasonPullFailed, v1alpha1.ReasonRolloutInProgress, v1alpha1.ReasonPullFailed, false, true, true},
		{"one pod downloading while another serves", observation{deployment: deployment(2, 2, 2, 1), pods: []corev1.Pod{pullRunning("a")}},
			v1alpha1.ReasonAvailable, v1alpha1.ReasonRolloutInProgress, v1alpha1.ReasonAsExpected, true, true, false},
	}
	status := func(b bool) metav1.ConditionStatus {
		if b {
			return metav1.ConditionTrue
		}
		return metav1.ConditionFalse
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, p, d := conditionsFor(tc.obs)
			got := [][2]string{{string(r.Status), r.Reason}, {string(p.Status), p.Reason}, {string(d.Status), d.Reason}}
			want := [][2]string{
				{string(status(tc.readyTrue)), tc.ready},
				{string(status(tc.progressTrue)), tc.progress},
				{string(status(tc.degradedTrue)), tc.degrad},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("conditionsFor() Ready/Progressing/Degraded mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestComputeStatus(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	svc := testService()

	first := computeStatus(svc, observation{deployment: deployment(1, 1, 1, 1, newRSAvailable)}, t0)
	if first.ObservedGeneration != 4 || first.Replicas != 1 || first.ReadyReplicas != 1 {
		t.Errorf("computeStatus = observedGeneration %d, replicas %d, ready %d; want 4, 1, 1", first.ObservedGeneration, first.Replicas, first.ReadyReplicas)
	}
	if first.Endpoint != "http://llada.ns.svc:8000/v1" {
		t.Errorf("endpoint = %q", first.Endpoint)
	}

	// Unchanged conditions keep their transition time; changed ones get the new time.
	svc.Status = first
	second := computeStatus(svc, observation{deployment: deployment(1, 1, 1, 0, newRSAvailable)}, t1)
	for typ, want := range map[string]metav1.Time{
		v1alpha1.ConditionReady:       t1, // became False
		v1alpha1.ConditionProgressing: t1, // became True
		v1alpha1.ConditionDegraded:    t1, // became True
	} {
		if got := meta.FindStatusCondition(second.Conditions, typ).LastTransitionTime; !got.Equal(&want) {
			t.Errorf("%s lastTransitionTime = %v, want %v", typ, got, want)
		}
	}
	third := computeStatus(svc, observation{deployment: deployment(1, 1, 1, 1, newRSAvailable)}, t1)
	if got := meta.FindStatusCondition(third.Conditions, v1alpha1.ConditionReady).LastTransitionTime; !got.Equal(&t0) {
		t.Errorf("an unchanged Ready condition moved its lastTransitionTime to %v, want %v", got, t0)
	}

	// A failed apply keeps reporting the generation last in effect.
	svc.Status.ObservedGeneration = 3
	failed := computeStatus(svc, observation{applyErr: errors.New("conflict")}, t1)
	if failed.ObservedGeneration != 3 {
		t.Errorf("observedGeneration after a failed apply = %d, want the previous 3", failed.ObservedGeneration)
	}
}

func TestTransitionEvents(t *testing.T) {
	cond := func(typ string, s metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason}
	}
	pending := []metav1.Condition{
		cond(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNoReadyReplicas),
		cond(v1alpha1.ConditionProgressing, metav1.ConditionTrue, v1alpha1.ReasonRolloutInProgress),
		cond(v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected),
	}
	ready := []metav1.Condition{
		cond(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable),
		cond(v1alpha1.ConditionProgressing, metav1.ConditionFalse, v1alpha1.ReasonRolloutComplete),
		cond(v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected),
	}
	broken := []metav1.Condition{
		cond(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNoReadyReplicas),
		cond(v1alpha1.ConditionProgressing, metav1.ConditionFalse, v1alpha1.ReasonProgressDeadlineExceeded),
		cond(v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonProgressDeadlineExceeded),
	}
	reasons := func(events []event) []string {
		r := make([]string, 0, len(events))
		for _, e := range events {
			r = append(r, e.eventType+"/"+e.reason)
		}
		return r
	}
	tests := []struct {
		name          string
		before, after []metav1.Condition
		want          []string
	}{
		{"first status", nil, pending, []string{}},
		{"steady", pending, pending, []string{}},
		{"becomes ready", pending, ready, []string{"Normal/Available", "Normal/RolloutComplete"}},
		{"steady ready", ready, ready, []string{}},
		{"breaks", ready, broken, []string{"Warning/NoReadyReplicas", "Warning/ProgressDeadlineExceeded"}},
		{"first status broken", nil, broken, []string{"Warning/ProgressDeadlineExceeded"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, reasons(transitionEvents(tc.before, tc.after))); diff != "" {
			t.Errorf("%s: transitionEvents mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
}

// A tuned service reports the tuner's settings as active in Apply mode (the spec's in
// Recommend mode), its autotune status, and CacheTuned/QualityDegraded; an untuned one drops
// those conditions.
func TestComputeStatusWithTuner(t *testing.T) {
	now := metav1.NewTime(time.Unix(100, 0))
	tuned := v1alpha1.CacheSettings{Mode: v1alpha1.CacheModeAutotune, PromptRefreshInterval: 200, ResponseRefreshInterval: 9, TransferPercent: new(int32(15))}
	svc := testService()
	svc.Spec.Cache = v1alpha1.CacheSpec{Mode: v1alpha1.CacheModeAutotune}
	cases := []struct {
		name                string
		result              tuneResult
		wantSource          v1alpha1.CacheSettingsSource
		wantTuned, wantQual metav1.ConditionStatus
	}{
		{"apply, converged", tuneResult{active: tuned, apply: true, status: v1alpha1.AutotuneStatus{Phase: v1alpha1.AutotunePhaseConverged, Best: &tuned}},
			v1alpha1.CacheSettingsSourceAutotune, metav1.ConditionTrue, metav1.ConditionFalse},
		{"recommend, exploring", tuneResult{active: tuned, status: v1alpha1.AutotuneStatus{Phase: v1alpha1.AutotunePhaseExploring, Best: &tuned}},
			v1alpha1.CacheSettingsSourceSpec, metav1.ConditionFalse, metav1.ConditionFalse},
		{"no safer settings left", tuneResult{active: tuned, apply: true, status: v1alpha1.AutotuneStatus{Phase: v1alpha1.AutotunePhaseConverged, Best: &tuned,
			LastDecisions: []v1alpha1.AutotuneDecision{{Action: "Revert", From: tuned, To: tuned, Reason: "no safer settings within bounds"}}}},
			v1alpha1.CacheSettingsSourceAutotune, metav1.ConditionTrue, metav1.ConditionTrue},
	}
	for _, tc := range cases {
		st := computeStatus(svc, observation{tuned: &tc.result}, now)
		if st.Cache.Source != tc.wantSource || st.Cache.Autotune == nil || st.Cache.Autotune.Phase != tc.result.status.Phase {
			t.Errorf("%s: cache status %+v", tc.name, st.Cache)
		}
		if tc.wantSource == v1alpha1.CacheSettingsSourceAutotune && st.Cache.Active.ResponseRefreshInterval != 9 {
			t.Errorf("%s: active %+v, want the tuned settings", tc.name, st.Cache.Active)
		}
		for typ, want := range map[string]metav1.ConditionStatus{v1alpha1.ConditionCacheTuned: tc.wantTuned, v1alpha1.ConditionQualityDegraded: tc.wantQual} {
			if c := meta.FindStatusCondition(st.Conditions, typ); c == nil || c.Status != want {
				t.Errorf("%s: %s = %+v, want %s", tc.name, typ, c, want)
			}
		}
	}
	svc.Status.Conditions = computeStatus(svc, observation{tuned: &cases[0].result}, now).Conditions
	svc.Spec.Cache.Mode = v1alpha1.CacheModeStatic
	st := computeStatus(svc, observation{}, now)
	if meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionCacheTuned) != nil || st.Cache.Autotune != nil {
		t.Errorf("after leaving Autotune mode the tuner's condition or status stayed: %+v", st)
	}
}
