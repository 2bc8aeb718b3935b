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
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/controllers/render"
)

// FieldOwner is the server-side apply field manager of everything the controller writes: the
// children of each DLLMService and its status subresource.
const FieldOwner = "dllm-operator"

// DLLMServiceReconciler reconciles DLLMService objects into runtime ConfigMaps, Deployments,
// Services and HorizontalPodAutoscalers, and reads the runtime Pods' states into the status.
type DLLMServiceReconciler struct {
	client.Client
	// Recorder records events for condition transitions.
	Recorder events.EventRecorder
	// Render holds the operator-wide render settings (the default runtime image).
	Render render.Options
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
	// Tuner tunes the cache settings of services in Autotune mode; nil turns tuning off (the
	// spec's settings are served and status reports no tuner).
	Tuner *Tuner
}

// +kubebuilder:rbac:groups=serving.dllm.dev,resources=dllmservices,verbs=get;list;watch
// +kubebuilder:rbac:groups=serving.dllm.dev,resources=dllmservices/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=configmaps;services,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=keda.sh,resources=scaledobjects,verbs=get;create;patch;delete

// Reconcile renders svc's children, applies them, observes the runtime Deployment and applies the
// status computed from what it saw.
func (r *DLLMServiceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	svc := &v1alpha1.DLLMService{}
	if err := r.Get(ctx, req.NamespacedName, svc); err != nil {
		if apierrors.IsNotFound(err) && r.Tuner != nil {
			r.Tuner.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !svc.DeletionTimestamp.IsZero() {
		// Every child carries a controller ownerReference: the garbage collector removes them.
		return ctrl.Result{}, nil
	}

	var obs observation
	var err error
	now := r.now()
	opts := r.Render
	if r.Tuner != nil && render.Tuned(svc) {
		if obs.tuned, err = r.Tuner.step(ctx, r.Client, svc, now); err != nil {
			return ctrl.Result{}, err
		}
		if obs.tuned.apply {
			opts.Tuned = &obs.tuned.active
		}
	} else if r.Tuner != nil {
		// Left Autotune mode (or never was in it): no tuner phase to report.
		r.Tuner.Metrics.forgetPhase(req.NamespacedName)
	}
	token := r.renderAndApply(ctx, svc, opts, &obs)
	r.pushTuned(ctx, obs, token)
	if obs.deployment, err = r.observeDeployment(ctx, svc); err != nil {
		return ctrl.Result{}, err
	}
	if obs.pods, err = r.observePods(ctx, svc); err != nil {
		return ctrl.Result{}, err
	}

	status := computeStatus(svc, obs, metav1.NewTime(now))
	if err := r.Status().Apply(ctx, statusApplyConfiguration(svc, status), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return ctrl.Result{}, errors.Join(obs.applyErr, fmt.Errorf("apply DLLMService status: %w", err))
	}
	for _, e := range transitionEvents(svc.Status.Conditions, status.Conditions) {
		r.Recorder.Eventf(svc, nil, e.eventType, e.reason, e.action, "%s", e.note)
	}
	var result ctrl.Result
	if t := obs.tuned; t != nil {
		for _, e := range tunerEvents(t.decisions) {
			r.Recorder.Eventf(svc, nil, e.eventType, e.reason, e.action, "%s", e.note)
		}
		result.RequeueAfter = r.Tuner.interval()
	}
	return result, obs.applyErr
}

// renderAndApply renders svc's children with opts and applies them, recording a render or
// apply error in obs. For a tuned service it first makes sure the admin token Secret exists
// (the Pods mount it) and returns the token.
func (r *DLLMServiceReconciler) renderAndApply(ctx context.Context, svc *v1alpha1.DLLMService, opts render.Options, obs *observation) string {
	objs, err := render.All(svc, opts)
	if err != nil {
		obs.renderErr = err // permanent until the spec changes: reported, not retried
		return ""
	}
	var token string
	if render.Tuned(svc) {
		if token, obs.applyErr = ensureAdminSecret(ctx, r.Client, svc); obs.applyErr != nil {
			return ""
		}
	}
	obs.applyErr = r.applyChildren(ctx, svc, objs)
	return token
}

// pushTuned sends the tuner's settings to the ready Pods that run others, in Apply mode. A
// failure is logged, not returned: the ConfigMap carries the same settings, only later.
func (r *DLLMServiceReconciler) pushTuned(ctx context.Context, obs observation, token string) {
	t := obs.tuned
	if t == nil || !t.apply || len(t.stale) == 0 || token == "" || obs.renderErr != nil {
		return
	}
	if err := r.Tuner.push(ctx, token, t.active, t.stale); err != nil {
		logf.FromContext(ctx).Info("Pushing cache settings to runtime Pods failed; the ConfigMap will bring them", "err", err.Error())
	}
}

// child is the apply configuration of an object the controller owns.
type child interface {
	runtime.ApplyConfiguration
	GetKind() *string
	GetName() *string
}

// applyChildren applies every rendered child with server-side apply, and deletes the
// HorizontalPodAutoscaler when autoscaling was turned off.
func (r *DLLMServiceReconciler) applyChildren(ctx context.Context, svc *v1alpha1.DLLMService, objs *render.Objects) error {
	// Read before the apply below replaces it: did KEDA scale the Deployment until now?
	scaledByKEDA := false
	prev := &appsv1.Deployment{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: svc.Namespace, Name: svc.Name}, prev); err == nil {
		scaledByKEDA = prev.Annotations[render.AnnotationScaledBy] == render.ScaledByKEDA
	}
	children := []child{objs.ConfigMap, objs.Service, objs.Deployment}
	if objs.Autoscaler != nil {
		children = append(children, objs.Autoscaler)
	}
	for _, obj := range children {
		if err := r.Apply(ctx, obj, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s: %w", ptr.Deref(obj.GetKind(), ""), ptr.Deref(obj.GetName(), ""), err)
		}
	}
	if err := r.applyScaledObject(ctx, svc, objs.ScaledObject, scaledByKEDA); err != nil {
		return err
	}
	if objs.Autoscaler == nil {
		return r.deleteStale(ctx, svc, &autoscalingv2.HorizontalPodAutoscaler{}, "HorizontalPodAutoscaler", "autoscaling is off or uses KEDA")
	}
	return nil
}

// deleteStale deletes svc's child of obj's kind, named after svc, if svc controls it: a child
// the spec no longer asks for. A kind the cluster does not serve has no such child.
func (r *DLLMServiceReconciler) deleteStale(ctx context.Context, svc *v1alpha1.DLLMService, obj client.Object, kind, why string) error {
	err := r.Get(ctx, client.ObjectKey{Namespace: svc.Namespace, Name: svc.Name}, obj)
	switch {
	case meta.IsNoMatchError(err), apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("get %s: %w", kind, err)
	case !metav1.IsControlledBy(obj, svc):
		return nil
	}
	if err := r.Delete(ctx, obj, client.Preconditions{UID: new(obj.GetUID())}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete %s: %w", kind, err)
	}
	logf.FromContext(ctx).Info("Deleted a child the spec no longer asks for", "kind", kind, "name", obj.GetName(), "why", why)
	return nil
}

// applyScaledObject applies the KEDA ScaledObject of spec.autoscaling.keda, or deletes the one
// the service had (wasKEDA: its Deployment says so) when it no longer asks for KEDA. Asking for
// KEDA where it is not installed is an error that names the field.
func (r *DLLMServiceReconciler) applyScaledObject(ctx context.Context, svc *v1alpha1.DLLMService, so *unstructured.Unstructured, wasKEDA bool) error {
	if so != nil {
		err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(so), client.FieldOwner(FieldOwner), client.ForceOwnership)
		if meta.IsNoMatchError(err) {
			return fmt.Errorf("spec.autoscaling.keda: KEDA is not installed in this cluster (no %s kind)", render.ScaledObjectGVK.Kind)
		}
		if err != nil {
			return fmt.Errorf("apply ScaledObject %s: %w", so.GetName(), err)
		}
		return nil
	}
	if !wasKEDA {
		return nil
	}
	stale := &unstructured.Unstructured{}
	stale.SetGroupVersionKind(render.ScaledObjectGVK)
	return r.deleteStale(ctx, svc, stale, render.ScaledObjectGVK.Kind, "spec.autoscaling.keda was removed")
}

// observeDeployment returns the runtime Deployment controlled by svc, or nil when there is none.
func (r *DLLMServiceReconciler) observeDeployment(ctx context.Context, svc *v1alpha1.DLLMService) (*appsv1.Deployment, error) {
	dep := &appsv1.Deployment{}
	err := r.Get(ctx, client.ObjectKey{Namespace: svc.Namespace, Name: svc.Name}, dep)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get Deployment: %w", err)
	case !metav1.IsControlledBy(dep, svc):
		return nil, nil
	}
	return dep, nil
}

// observePods returns the runtime Pods of svc, whose container states tell a download from a
// load.
func (r *DLLMServiceReconciler) observePods(ctx context.Context, svc *v1alpha1.DLLMService) ([]corev1.Pod, error) {
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(svc.Namespace), client.MatchingLabels(render.SelectorLabels(svc))); err != nil {
		return nil, fmt.Errorf("list Pods: %w", err)
	}
	return pods.Items, nil
}

// podOwner maps a runtime Pod to its DLLMService, from the label every runtime Pod carries
// (Pods belong to ReplicaSets, so no ownerReference leads to the service).
func podOwner(_ context.Context, obj client.Object) []reconcile.Request {
	name, ok := obj.GetLabels()[render.LabelDLLMService]
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
}

func (r *DLLMServiceReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// SetupWithManager registers the reconciler. Children trigger reconciles through Owns watches;
// the DLLMService itself only when its generation changes, so the controller's own status
// writes do not wake it.
func (r *DLLMServiceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.DLLMService{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Service{}).
		Owns(&appsv1.Deployment{}).
		Owns(&autoscalingv2.HorizontalPodAutoscaler{}).
		// A Pod's container states change the status (Downloading, Loading, PullFailed).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podOwner)).
		Named("dllmservice").
		Complete(r)
}

// CacheOptions limits the manager's informers for the kinds the controller owns to objects it
// rendered, so it does not cache every ConfigMap and Deployment in the cluster.
func CacheOptions() cache.Options {
	managed := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{render.LabelManagedBy: render.ManagedBy})}
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.ConfigMap{}:                      managed,
		&corev1.Service{}:                        managed,
		&appsv1.Deployment{}:                     managed,
		&autoscalingv2.HorizontalPodAutoscaler{}: managed,
		&corev1.Pod{}:                            managed,
		&corev1.Secret{}:                         managed,
		// The EndpointSlice controller copies a Service's labels onto its slices.
		&discoveryv1.EndpointSlice{}: managed,
	}}
}
