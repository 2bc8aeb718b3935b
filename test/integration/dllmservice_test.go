//go:build integration

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

package integration

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/controllers"
	"dllm.dev/dllm-operator/controllers/render"
	"dllm.dev/dllm-operator/runtime/contract"
)

// dllmService builds a valid DLLMService named llada in ns, changed by mods.
func dllmService(ns string, mods ...func(*v1alpha1.DLLMService)) *v1alpha1.DLLMService {
	svc := &v1alpha1.DLLMService{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "llada"},
		Spec: v1alpha1.DLLMServiceSpec{
			Model: v1alpha1.ModelSpec{Family: v1alpha1.ModelFamilyLLaDA, Source: "hf://GSAI-ML/LLaDA-8B-Instruct@main"},
			GPU:   &v1alpha1.GPUSpec{Type: v1alpha1.GPUTypeH100, Count: 1},
		},
	}
	for _, m := range mods {
		m(svc)
	}
	return svc
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(t.Context(), obj); err != nil {
		t.Fatalf("create %s: %v", obj.GetName(), err)
	}
}

// get reads obj's current state into obj.
func get(ctx context.Context, obj client.Object) error {
	return k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)
}

// waitForStatus waits until the controller has written a status for svc's current generation
// that satisfies check, and returns the DLLMService.
func waitForStatus(t *testing.T, svc *v1alpha1.DLLMService, what string, check func(*v1alpha1.DLLMService) error) *v1alpha1.DLLMService {
	t.Helper()
	got := &v1alpha1.DLLMService{}
	eventually(t, what, func(ctx context.Context) error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(svc), got); err != nil {
			return err
		}
		if got.Status.ObservedGeneration != got.Generation {
			return fmt.Errorf("status.observedGeneration %d, generation %d", got.Status.ObservedGeneration, got.Generation)
		}
		return check(got)
	})
	return got
}

func conditionIs(typ string, status metav1.ConditionStatus, reason string) func(*v1alpha1.DLLMService) error {
	return func(svc *v1alpha1.DLLMService) error {
		c := meta.FindStatusCondition(svc.Status.Conditions, typ)
		if c == nil || c.Status != status || c.Reason != reason {
			return fmt.Errorf("condition %s = %+v, want status %s reason %s", typ, c, status, reason)
		}
		if c.ObservedGeneration != svc.Generation {
			return fmt.Errorf("condition %s observedGeneration %d, want %d", typ, c.ObservedGeneration, svc.Generation)
		}
		return nil
	}
}

func allOf(checks ...func(*v1alpha1.DLLMService) error) func(*v1alpha1.DLLMService) error {
	return func(svc *v1alpha1.DLLMService) error {
		for _, c := range checks {
			if err := c(svc); err != nil {
				return err
			}
		}
		return nil
	}
}

func deploymentOf(t *testing.T, svc *v1alpha1.DLLMService) *appsv1.Deployment {
	t.Helper()
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name}}
	eventually(t, "runtime Deployment exists", func(ctx context.Context) error { return get(ctx, dep) })
	return dep
}

// setDeploymentStatus plays the Deployment controller and kubelet: it writes dep's status through
// the status subresource.
func setDeploymentStatus(t *testing.T, dep *appsv1.Deployment, mutate func(*appsv1.Deployment)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := get(t.Context(), dep); err != nil {
			return err
		}
		dep.Status.ObservedGeneration = dep.Generation
		mutate(dep)
		return k8s.Status().Update(t.Context(), dep)
	})
	if err != nil {
		t.Fatalf("update Deployment status: %v", err)
	}
}

func rolledOut(n int32) func(*appsv1.Deployment) {
	return func(dep *appsv1.Deployment) {
		dep.Status.Replicas, dep.Status.UpdatedReplicas, dep.Status.ReadyReplicas, dep.Status.AvailableReplicas = n, n, n, n
		dep.Status.Conditions = []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()},
		}
	}
}

func isControlledBy(obj metav1.Object, svc *v1alpha1.DLLMService) error {
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.UID != svc.UID || ref.Kind != "DLLMService" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		return fmt.Errorf("%s controller reference = %+v, want DLLMService %s (uid %s) blocking owner deletion", obj.GetName(), ref, svc.Name, svc.UID)
	}
	return nil
}

func TestCreateRendersChildren(t *testing.T) {
	ns := newNamespace(t)
	svc := dllmService(ns, func(s *v1alpha1.DLLMService) {
		s.Spec.GPU = &v1alpha1.GPUSpec{Type: v1alpha1.GPUTypeA100_80G, Count: 2}
		s.Spec.Runtime.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Gi")}}
		s.Spec.Model.TokenSecretRef = &v1alpha1.SecretKeyRef{Name: "hf", Key: "hf-token"}
		s.Spec.Model.CacheClaimName = "models"
	})
	create(t, svc)

	dep := deploymentOf(t, svc)
	if err := isControlledBy(dep, svc); err != nil {
		t.Error(err)
	}
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Image != testRuntimeImage {
		t.Errorf("runtime image = %q, want the operator default %q", c.Image, testRuntimeImage)
	}
	if want := []string{"serve", "--config", contract.ConfigPath}; !slices.Equal(c.Args, want) {
		t.Errorf("runtime args = %q, want %q", c.Args, want)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != contract.ReadyPath || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != contract.HealthPath {
		t.Errorf("probes = readiness %+v, liveness %+v; want %s and %s", c.ReadinessProbe, c.LivenessProbe, contract.ReadyPath, contract.HealthPath)
	}
	if got := c.Resources.Limits[render.GPUResource]; got.Value() != 2 {
		t.Errorf("GPU limit = %s, want 2", got.String())
	}
	if got := c.Resources.Requests[corev1.ResourceMemory]; got.String() != "32Gi" {
		t.Errorf("memory request = %s, want the spec's 32Gi", got.String())
	}
	// The weights are pulled into the cache claim by an init container that alone sees the token.
	modelDir := "/models/hf/GSAI-ML/LLaDA-8B-Instruct/main"
	if len(pod.InitContainers) != 1 {
		t.Fatalf("init containers %+v, want the pull container", pod.InitContainers)
	}
	pull := pod.InitContainers[0]
	if want := []string{contract.PullCommand, svc.Spec.Model.Source, contract.DirFlag, modelDir}; pull.Name != render.PullContainerName ||
		pull.Image != testRuntimeImage || !slices.Equal(pull.Args, want) {
		t.Errorf("pull container %s %s %q, want %s %s %q", pull.Name, pull.Image, pull.Args, render.PullContainerName, testRuntimeImage, want)
	}
	if len(pull.Env) != 1 || pull.Env[0].Name != contract.HubTokenEnv || pull.Env[0].ValueFrom == nil ||
		pull.Env[0].ValueFrom.SecretKeyRef.Name != "hf" || pull.Env[0].ValueFrom.SecretKeyRef.Key != "hf-token" || len(c.Env) != 0 {
		t.Errorf("pull env %+v, runtime env %+v; want %s from Secret hf key hf-token in the pull container only", pull.Env, c.Env, contract.HubTokenEnv)
	}
	var claim string
	for _, v := range pod.Volumes {
		if v.Name == "model" && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != "models" {
		t.Errorf("volumes %+v, want the model volume on claim models", pod.Volumes)
	}
	if got := pod.NodeSelector[render.GPUProductLabel]; got != "NVIDIA-A100-SXM4-80GB" {
		t.Errorf("node selector %s = %q, want NVIDIA-A100-SXM4-80GB", render.GPUProductLabel, got)
	}
	sc := c.SecurityContext
	if sc == nil || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) || ptr.Deref(sc.AllowPrivilegeEscalation, true) ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		pod.SecurityContext == nil || !ptr.Deref(pod.SecurityContext.RunAsNonRoot, false) {
		t.Errorf("security context = pod %+v, container %+v; want non-root, read-only root, no privilege escalation, all capabilities dropped", pod.SecurityContext, sc)
	}

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: render.ConfigMapName(svc)}}
	eventually(t, "runtime ConfigMap exists", func(ctx context.Context) error { return get(ctx, cm) })
	if err := isControlledBy(cm, svc); err != nil {
		t.Error(err)
	}
	cfg, err := contract.Parse(strings.NewReader(cm.Data[contract.ConfigFileName]))
	if err != nil {
		t.Fatalf("the rendered runtime config does not parse: %v", err)
	}
	if cfg.Model.GPUs != 2 || cfg.Model.Backend != contract.BackendCUDA || cfg.Cache.PromptRefreshInterval != int(v1alpha1.DefaultPromptRefreshInterval) ||
		cfg.Model.Dir != modelDir {
		t.Errorf("runtime config = %+v; want 2 CUDA GPUs, the default K_p and the model in %s", cfg, modelDir)
	}

	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc.Name}}
	eventually(t, "runtime Service exists", func(ctx context.Context) error { return get(ctx, s) })
	if err := isControlledBy(s, svc); err != nil {
		t.Error(err)
	}
	if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != v1alpha1.DefaultPort {
		t.Errorf("Service ports = %+v, want one on %d", s.Spec.Ports, v1alpha1.DefaultPort)
	}

	got := waitForStatus(t, svc, "status reports a pending rollout", allOf(
		conditionIs(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonDeploymentPending),
		conditionIs(v1alpha1.ConditionProgressing, metav1.ConditionTrue, v1alpha1.ReasonDeploymentPending),
		conditionIs(v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected),
	))
	wantEndpoint := fmt.Sprintf("http://llada.%s.svc:8000/v1", ns)
	if got.Status.Endpoint != wantEndpoint || got.Status.Selector != "app.kubernetes.io/instance=llada,app.kubernetes.io/name=dllm-runtime" {
		t.Errorf("status endpoint %q, selector %q; want %q and the runtime selector", got.Status.Endpoint, got.Status.Selector, wantEndpoint)
	}
	active := got.Status.Cache.Active
	if active.Mode != v1alpha1.CacheModeStatic || active.PromptRefreshInterval != 100 || active.ResponseRefreshInterval != 7 ||
		ptr.Deref(active.TransferPercent, -1) != 25 || got.Status.Cache.Source != v1alpha1.CacheSettingsSourceSpec {
		t.Errorf("status.cache = %+v, want the default Static settings from Spec", got.Status.Cache)
	}
}

func TestSpecChangeUpdatesChildren(t *testing.T) {
	ns := newNamespace(t)
	svc := dllmService(ns)
	create(t, svc)
	dep := deploymentOf(t, svc)
	hash := dep.Spec.Template.Annotations[render.AnnotationConfigHash]

	// A cache change reaches the ConfigMap but does not restart Pods.
	patchSpec(t, svc, func(s *v1alpha1.DLLMService) { s.Spec.Cache.ResponseRefreshInterval = 3 })
	eventually(t, "ConfigMap carries the new K_r", func(ctx context.Context) error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: render.ConfigMapName(svc)}}
		if err := get(ctx, cm); err != nil {
			return err
		}
		if !strings.Contains(cm.Data[contract.ConfigFileName], `"responseRefreshInterval": 3`) {
			return errNotYet
		}
		return nil
	})
	waitForStatus(t, svc, "status reports the new K_r", func(s *v1alpha1.DLLMService) error {
		if s.Status.Cache.Active.ResponseRefreshInterval != 3 {
			return fmt.Errorf("status K_r = %d, want 3", s.Status.Cache.Active.ResponseRefreshInterval)
		}
		return nil
	})
	if err := get(t.Context(), dep); err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Annotations[render.AnnotationConfigHash]; got != hash {
		t.Errorf("a cache change changed the Pod template hash %s -> %s; it must apply without restarts", hash, got)
	}

	// An image and sampler change rolls the Pods.
	patchSpec(t, svc, func(s *v1alpha1.DLLMService) {
		s.Spec.Runtime.Image = "registry.example/dllm-runtime:v2"
		s.Spec.Generation.Steps = 64
	})
	eventually(t, "Deployment rolls to the new image and config", func(ctx context.Context) error {
		if err := get(ctx, dep); err != nil {
			return err
		}
		if img := dep.Spec.Template.Spec.Containers[0].Image; img != "registry.example/dllm-runtime:v2" {
			return fmt.Errorf("image %q", img)
		}
		if dep.Spec.Template.Annotations[render.AnnotationConfigHash] == hash {
			return fmt.Errorf("config hash unchanged after a sampler change")
		}
		return nil
	})
	waitForStatus(t, svc, "status follows the new generation", func(s *v1alpha1.DLLMService) error {
		if s.Generation < 3 {
			return fmt.Errorf("generation %d, want at least 3", s.Generation)
		}
		return nil
	})
}

// patchSpec changes svc's spec as a user would, with a merge patch.
func patchSpec(t *testing.T, svc *v1alpha1.DLLMService, mutate func(*v1alpha1.DLLMService)) {
	t.Helper()
	cur := &v1alpha1.DLLMService{}
	if err := k8s.Get(t.Context(), client.ObjectKeyFromObject(svc), cur); err != nil {
		t.Fatal(err)
	}
	base := cur.DeepCopy()
	mutate(cur)
	if err := k8s.Patch(t.Context(), cur, client.MergeFrom(base)); err != nil {
		t.Fatalf("patch spec: %v", err)
	}
}

func TestStatusFollowsDeployment(t *testing.T) {
	ns := newNamespace(t)
	svc := dllmService(ns, func(s *v1alpha1.DLLMService) { s.Spec.Replicas = ptr.To[int32](2) })
	create(t, svc)
	dep := deploymentOf(t, svc)

	setDeploymentStatus(t, dep, func(d *appsv1.Deployment) {
		d.Status.Replicas, d.Status.UpdatedReplicas = 2, 2
	})
	waitForStatus(t, svc, "rollout in progress", allOf(
		conditionIs(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNoReadyReplicas),
		conditionIs(v1alpha1.ConditionProgressing, metav1.ConditionTrue, v1alpha1.ReasonRolloutInProgress),
	))

	setDeploymentStatus(t, dep, rolledOut(2))
	got := waitForStatus(t, svc, "rollout complete", allOf(
		conditionIs(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable),
		conditionIs(v1alpha1.ConditionProgressing, metav1.ConditionFalse, v1alpha1.ReasonRolloutComplete),
		conditionIs(v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected),
	))
	if got.Status.Replicas != 2 || got.Status.ReadyReplicas != 2 {
		t.Errorf("status replicas %d ready %d, want 2 and 2", got.Status.Replicas, got.Status.ReadyReplicas)
	}
	eventually(t, "an Available event was recorded", func(ctx context.Context) error {
		return findEvent(ctx, svc, v1alpha1.ReasonAvailable)
	})

	// A Pod crashes after the rollout.
	setDeploymentStatus(t, dep, func(d *appsv1.Deployment) {
		rolledOut(2)(d)
		d.Status.ReadyReplicas, d.Status.AvailableReplicas = 1, 1
	})
	waitForStatus(t, svc, "replicas unavailable", allOf(
		conditionIs(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable),
		conditionIs(v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonReplicasUnavailable),
	))

	// A spec change the Deployment controller has not observed yet.
	patchSpec(t, svc, func(s *v1alpha1.DLLMService) { s.Spec.Generation.Steps = 64 })
	waitForStatus(t, svc, "new generation pending", allOf(
		conditionIs(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonDeploymentPending),
		conditionIs(v1alpha1.ConditionProgressing, metav1.ConditionTrue, v1alpha1.ReasonDeploymentPending),
	))

	// The rollout stalls.
	setDeploymentStatus(t, dep, func(d *appsv1.Deployment) {
		d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = 3, 1, 2, 2
		d.Status.Conditions = []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
			Message: `ReplicaSet "llada-abc" has timed out progressing.`, LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		}}
	})
	got = waitForStatus(t, svc, "rollout stalled", allOf(
		conditionIs(v1alpha1.ConditionProgressing, metav1.ConditionFalse, v1alpha1.ReasonProgressDeadlineExceeded),
		conditionIs(v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonProgressDeadlineExceeded),
	))
	if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionDegraded); !strings.Contains(c.Message, "timed out progressing") {
		t.Errorf("Degraded message = %q, want the Deployment's explanation", c.Message)
	}
	eventually(t, "a ProgressDeadlineExceeded warning was recorded", func(ctx context.Context) error {
		return findEvent(ctx, svc, v1alpha1.ReasonProgressDeadlineExceeded)
	})
}

// The runtime Pods' container states reach the status: a pull under way (Downloading), a
// runtime loading its weights (Loading), and a failed pull with its own words (PullFailed).
func TestStatusFollowsPods(t *testing.T) {
	ns := newNamespace(t)
	svc := dllmService(ns)
	create(t, svc)
	dep := deploymentOf(t, svc)
	setDeploymentStatus(t, dep, func(d *appsv1.Deployment) { d.Status.Replicas, d.Status.UpdatedReplicas = 1, 1 })

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "llada-abc-1", Labels: dep.Spec.Template.Labels},
		Spec:       dep.Spec.Template.Spec,
	}
	if err := k8s.Create(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	setPodStatus := func(mutate func(*corev1.PodStatus)) {
		t.Helper()
		eventually(t, "pod status written", func(ctx context.Context) error {
			if err := get(ctx, pod); err != nil {
				return err
			}
			mutate(&pod.Status)
			return k8s.Status().Update(ctx, pod)
		})
	}
	now := metav1.Now()
	setPodStatus(func(st *corev1.PodStatus) {
		st.Phase = corev1.PodPending
		st.InitContainerStatuses = []corev1.ContainerStatus{{Name: render.PullContainerName, Image: testRuntimeImage,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}
	})
	waitForStatus(t, svc, "downloading", conditionIs(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonDownloading))

	setPodStatus(func(st *corev1.PodStatus) {
		st.InitContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		st.InitContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Message: "pull hf://GSAI-ML/LLaDA-8B-Instruct@main: hub: unauthorized", StartedAt: now, FinishedAt: now}}
		st.InitContainerStatuses[0].RestartCount = 1
	})
	got := waitForStatus(t, svc, "pull failed", allOf(
		conditionIs(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonPullFailed),
		conditionIs(v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonPullFailed),
	))
	if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionDegraded); !strings.Contains(c.Message, "hub: unauthorized") {
		t.Errorf("Degraded message = %q, want the pull's error", c.Message)
	}

	setPodStatus(func(st *corev1.PodStatus) {
		st.Phase = corev1.PodRunning
		st.InitContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{StartedAt: now, FinishedAt: now}}
		st.ContainerStatuses = []corev1.ContainerStatus{{Name: "runtime", Image: testRuntimeImage,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}
	})
	waitForStatus(t, svc, "loading", allOf(
		conditionIs(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonLoading),
		conditionIs(v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected),
	))
}

func findEvent(ctx context.Context, svc *v1alpha1.DLLMService, reason string) error {
	var list eventsv1.EventList
	if err := k8s.List(ctx, &list, client.InNamespace(svc.Namespace)); err != nil {
		return err
	}
	for _, e := range list.Items {
		if e.Regarding.UID == svc.UID && e.Reason == reason {
			return nil
		}
	}
	return fmt.Errorf("no event with reason %s among %d events", reason, len(list.Items))
}

func TestScaleSubresource(t *testing.T) {
	ns := newNamespace(t)
	svc := dllmService(ns, func(s *v1alpha1.DLLMService) { s.Spec.Replicas = ptr.To[int32](1) })
	create(t, svc)
	dep := deploymentOf(t, svc)
	setDeploymentStatus(t, dep, rolledOut(1))
	waitForStatus(t, svc, "ready", conditionIs(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable))

	scale := &autoscalingv1.Scale{}
	if err := k8s.SubResource("scale").Get(t.Context(), svc, scale); err != nil {
		t.Fatalf("get scale: %v", err)
	}
	if scale.Spec.Replicas != 1 || scale.Status.Replicas != 1 || scale.Status.Selector != render.Selector(svc) {
		t.Fatalf("scale = spec %d, status %d, selector %q; want 1, 1, %q", scale.Spec.Replicas, scale.Status.Replicas, scale.Status.Selector, render.Selector(svc))
	}

	scale.Spec.Replicas = 3
	if err := k8s.SubResource("scale").Update(t.Context(), svc, client.WithSubResourceBody(scale)); err != nil {
		t.Fatalf("update scale: %v", err)
	}
	eventually(t, "the Deployment scales to 3", func(ctx context.Context) error {
		if err := get(ctx, dep); err != nil {
			return err
		}
		if r := ptr.Deref(dep.Spec.Replicas, 0); r != 3 {
			return fmt.Errorf("Deployment replicas %d", r)
		}
		return nil
	})
	setDeploymentStatus(t, dep, rolledOut(3))
	eventually(t, "the scale subresource reports 3", func(ctx context.Context) error {
		if err := k8s.SubResource("scale").Get(ctx, svc, scale); err != nil {
			return err
		}
		if scale.Spec.Replicas != 3 || scale.Status.Replicas != 3 {
			return fmt.Errorf("scale spec %d status %d", scale.Spec.Replicas, scale.Status.Replicas)
		}
		return nil
	})
}

func TestAutoscalingOwnsReplicas(t *testing.T) {
	ns := newNamespace(t)
	svc := dllmService(ns, func(s *v1alpha1.DLLMService) {
		s.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 5}
	})
	create(t, svc)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc.Name}}
	eventually(t, "HorizontalPodAutoscaler exists", func(ctx context.Context) error { return get(ctx, hpa) })
	if err := isControlledBy(hpa, svc); err != nil {
		t.Error(err)
	}
	if ptr.Deref(hpa.Spec.MinReplicas, 0) != 2 || hpa.Spec.MaxReplicas != 5 || hpa.Spec.Metrics[0].Pods.Metric.Name != contract.MetricSaturation {
		t.Errorf("HPA spec = %+v, want 2-5 replicas on %s", hpa.Spec, contract.MetricSaturation)
	}
	dep := deploymentOf(t, svc)
	for _, f := range dep.ManagedFields {
		if f.Manager == controllers.FieldOwner && strings.Contains(f.FieldsV1.GetRawString(), `"f:replicas"`) {
			t.Errorf("the controller owns the Deployment's replicas while an HPA scales it: %s", f.FieldsV1.GetRawString())
		}
	}

	patchSpec(t, svc, func(s *v1alpha1.DLLMService) {
		s.Spec.Autoscaling = nil
		s.Spec.Replicas = ptr.To[int32](4)
	})
	eventually(t, "the HPA is deleted and the Deployment set to 4 replicas", func(ctx context.Context) error {
		if err := get(ctx, hpa); !apierrors.IsNotFound(err) {
			return fmt.Errorf("HPA still exists (get: %w)", err)
		}
		if err := get(ctx, dep); err != nil {
			return err
		}
		if r := ptr.Deref(dep.Spec.Replicas, 0); r != 4 {
			return fmt.Errorf("Deployment replicas %d", r)
		}
		return nil
	})
}

// TestKEDAScaledObject scales through KEDA when spec.autoscaling.keda is set: without KEDA in
// the cluster the service is Degraded with a message naming the field; once KEDA's CRD exists
// the ScaledObject is applied (and no HPA); dropping keda deletes it for an HPA.
func TestKEDAScaledObject(t *testing.T) {
	ns := newNamespace(t)
	svc := dllmService(ns, func(s *v1alpha1.DLLMService) {
		s.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MaxReplicas: 4,
			KEDA: &v1alpha1.KEDASpec{PrometheusAddress: "http://prometheus.monitoring.svc:9090"}}
	})
	create(t, svc)
	// The spec is not in effect, so observedGeneration stays behind: read the condition alone.
	eventually(t, "Degraded for the missing KEDA", func(ctx context.Context) error {
		s := &v1alpha1.DLLMService{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(svc), s); err != nil {
			return err
		}
		c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionDegraded)
		if c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "spec.autoscaling.keda: KEDA is not installed") {
			return fmt.Errorf("Degraded = %+v", c)
		}
		return nil
	})

	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "scaledobjects.keda.sh"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "keda.sh", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "scaledobjects", Singular: "scaledobject", Kind: "ScaledObject", ListKind: "ScaledObjectList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1alpha1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: new(true)}}}},
		},
	}
	if err := envtest.CreateCRDs(restConfig, []*apiextensionsv1.CustomResourceDefinition{crd}); err != nil {
		t.Fatal(err)
	}
	if err := envtest.WaitForCRDs(restConfig, []*apiextensionsv1.CustomResourceDefinition{crd}, envtest.CRDInstallOptions{MaxTime: 30 * time.Second, PollInterval: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	// A spec change makes the controller try again now that the kind exists.
	patchSpec(t, svc, func(s *v1alpha1.DLLMService) { s.Spec.Autoscaling.MaxReplicas = 5 })
	so := &unstructured.Unstructured{}
	so.SetGroupVersionKind(render.ScaledObjectGVK)
	so.SetNamespace(ns)
	so.SetName(svc.Name)
	eventually(t, "the ScaledObject", func(ctx context.Context) error {
		if err := get(ctx, so); err != nil {
			return err
		}
		if max, _, _ := unstructured.NestedInt64(so.Object, "spec", "maxReplicaCount"); max != 5 {
			return fmt.Errorf("maxReplicaCount %d", max)
		}
		return nil
	})
	if err := isControlledBy(so, svc); err != nil {
		t.Error(err)
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc.Name}}
	if err := get(t.Context(), hpa); !apierrors.IsNotFound(err) {
		t.Errorf("an HPA exists beside the ScaledObject (get: %v)", err)
	}

	patchSpec(t, svc, func(s *v1alpha1.DLLMService) { s.Spec.Autoscaling.KEDA = nil })
	eventually(t, "the ScaledObject deleted and an HPA in its place", func(ctx context.Context) error {
		if err := get(ctx, so); !apierrors.IsNotFound(err) {
			return fmt.Errorf("ScaledObject still exists (get: %w)", err)
		}
		return get(ctx, hpa)
	})
}

// TestReapplyChangesNothing applies the sample manifest as a GitOps tool would, twice, and checks
// that the second apply and the controller leave every object as it was, and that the controller
// owns no field of the spec.
func TestReapplyChangesNothing(t *testing.T) {
	ns := newNamespace(t)
	data, err := os.ReadFile("../../config/samples/serving_v1alpha1_dllmservice_autotune.yaml")
	if err != nil {
		t.Fatal(err)
	}
	apply := func() {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &u.Object); err != nil {
			t.Fatal(err)
		}
		u.SetNamespace(ns)
		if err := k8s.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("gitops"), client.ForceOwnership); err != nil {
			t.Fatalf("apply sample: %v", err)
		}
	}
	apply()
	svc := &v1alpha1.DLLMService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dream-7b-instruct"}}
	waitForStatus(t, svc, "status written", conditionIs(v1alpha1.ConditionProgressing, metav1.ConditionTrue, v1alpha1.ReasonDeploymentPending))
	if err := get(t.Context(), svc); err != nil {
		t.Fatal(err)
	}
	dep := deploymentOf(t, svc)
	setDeploymentStatus(t, dep, rolledOut(1))
	waitForStatus(t, svc, "ready", conditionIs(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable))

	objects := []client.Object{
		&v1alpha1.DLLMService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc.Name}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc.Name}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc.Name}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: render.ConfigMapName(svc)}},
		&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc.Name}},
	}
	versions := func(ctx context.Context) ([]string, error) {
		var v []string
		for _, o := range objects {
			if err := get(ctx, o); err != nil {
				return nil, err
			}
			v = append(v, fmt.Sprintf("%T %s", o, o.GetResourceVersion()))
		}
		return v, nil
	}
	var before []string
	// Let in-flight reconciles finish: the versions must hold still for a while.
	eventually(t, "objects settle", func(ctx context.Context) error {
		v1, err := versions(ctx)
		if err != nil {
			return err
		}
		time.Sleep(time.Second)
		v2, err := versions(ctx)
		if err != nil {
			return err
		}
		if !slices.Equal(v1, v2) {
			return fmt.Errorf("still changing: %v -> %v", v1, v2)
		}
		before = v2
		return nil
	})

	apply()
	consistently(t, "re-applying the same manifest changes nothing", 3*time.Second, func(ctx context.Context) error {
		after, err := versions(ctx)
		if err != nil {
			return err
		}
		if !slices.Equal(before, after) {
			return fmt.Errorf("resource versions changed: %v -> %v", before, after)
		}
		return nil
	})

	got := objects[0].(*v1alpha1.DLLMService)
	for _, f := range got.ManagedFields {
		if f.Manager != controllers.FieldOwner {
			continue
		}
		if f.Subresource != "status" || strings.Contains(f.FieldsV1.GetRawString(), `"f:spec"`) || strings.Contains(f.FieldsV1.GetRawString(), `"f:metadata"`) {
			t.Errorf("the controller owns fields outside status: subresource %q, fields %s", f.Subresource, f.FieldsV1.GetRawString())
		}
	}
	if !slices.ContainsFunc(got.ManagedFields, func(f metav1.ManagedFieldsEntry) bool { return f.Manager == controllers.FieldOwner }) {
		t.Errorf("no managedFields entry for %s; the status was not written by server-side apply", controllers.FieldOwner)
	}
}

// TestApplyFailureIsReported creates a DLLMService whose Deployment name is taken by a Deployment
// another controller owns: the apply must fail, the status must say so, and the generation must
// not be reported as observed.
func TestApplyFailureIsReported(t *testing.T) {
	ns := newNamespace(t)
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other-owner"}}
	create(t, owner)
	labels := map[string]string{"app": "other"}
	create(t, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: "llada",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, Controller: new(true)}},
		},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "other:1"}}},
			},
		},
	})
	svc := dllmService(ns)
	create(t, svc)

	got := &v1alpha1.DLLMService{}
	eventually(t, "Degraded reports the failed apply", func(ctx context.Context) error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(svc), got); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionDegraded)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonApplyFailed {
			return fmt.Errorf("Degraded = %+v", c)
		}
		return nil
	})
	if got.Status.ObservedGeneration != 0 {
		t.Errorf("status.observedGeneration = %d after a failed apply, want 0: the spec is not in effect", got.Status.ObservedGeneration)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionDegraded); !strings.Contains(c.Message, "apply Deployment llada") {
		t.Errorf("Degraded message = %q, want it to name the Deployment llada", c.Message)
	}
	eventually(t, "an ApplyFailed warning was recorded", func(ctx context.Context) error {
		return findEvent(ctx, svc, v1alpha1.ReasonApplyFailed)
	})
}
