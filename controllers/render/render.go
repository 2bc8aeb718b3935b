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

package render

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	autoscalingv2ac "k8s.io/client-go/applyconfigurations/autoscaling/v2"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/runtime/contract"
)

// Labels and annotations on the objects the operator renders.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelDLLMService names the DLLMService an object belongs to.
	LabelDLLMService = "serving.dllm.dev/dllmservice"

	// ManagedBy is the value of LabelManagedBy; the manager's cache selects on it.
	ManagedBy = "dllm-operator"
	// RuntimeName is the value of LabelName on runtime objects.
	RuntimeName = "dllm-runtime"

	// AnnotationConfigHash on the Pod template is a hash of the runtime configuration without its
	// cache section: changing the model, server or sampler settings rolls the Pods, while cache
	// settings reach running Pods without a restart.
	AnnotationConfigHash = "serving.dllm.dev/config-hash"

	// AnnotationScaledBy on the Deployment says a KEDA ScaledObject scales it ("KEDA"). When the
	// spec drops KEDA, the Deployment still carries it from the last apply: that is when the
	// controller looks for a ScaledObject to delete, so clusters without KEDA never pay for the
	// lookup (a miss of an unknown API group costs a full discovery).
	AnnotationScaledBy = "serving.dllm.dev/scaled-by"
	// ScaledByKEDA is the value of AnnotationScaledBy.
	ScaledByKEDA = "KEDA"
)

// Options are what render needs besides the DLLMService.
type Options struct {
	// RuntimeImage is the runtime image used when spec.runtime.image is empty (operator-wide).
	RuntimeImage string
	// Tuned, when set, are the cache settings the tuner chose for this DLLMService. They replace
	// the spec's in the runtime configuration when spec.cache.mode is Autotune in Apply mode, so
	// new Pods start tuned (running Pods get them live).
	Tuned *v1alpha1.CacheSettings
}

// AdminSecretName is the name of the Secret holding the bearer token of svc's runtime admin
// endpoints (created by the controller when spec.cache.mode is Autotune).
func AdminSecretName(svc *v1alpha1.DLLMService) string { return svc.Name + "-runtime-admin" }

// AdminTokenKey is the key of the token in the admin Secret.
const AdminTokenKey = "token"

// Objects are the desired children of one DLLMService.
type Objects struct {
	ConfigMap  *corev1ac.ConfigMapApplyConfiguration
	Deployment *appsv1ac.DeploymentApplyConfiguration
	Service    *corev1ac.ServiceApplyConfiguration
	// Autoscaler is nil when spec.autoscaling is unset or uses KEDA; a stale one must then be
	// deleted.
	Autoscaler *autoscalingv2ac.HorizontalPodAutoscalerApplyConfiguration
	// ScaledObject is the KEDA ScaledObject of spec.autoscaling.keda, nil otherwise (a stale one
	// must then be deleted). It is unstructured: KEDA's types are not a dependency.
	ScaledObject *unstructured.Unstructured
}

// ErrNoRuntimeImage is returned by All when neither spec.runtime.image nor
// Options.RuntimeImage names an image.
var ErrNoRuntimeImage = errors.New("spec.runtime.image: no image set and the operator has no default runtime image")

// All renders every child of svc. An error means the spec cannot be served as written; its
// message names the field.
func All(svc *v1alpha1.DLLMService, opts Options) (*Objects, error) {
	image := svc.Spec.Runtime.Image
	if image == "" {
		image = opts.RuntimeImage
	}
	if image == "" {
		return nil, ErrNoRuntimeImage
	}
	if gpu := svc.Spec.GPU; gpu != nil && gpuProducts[gpu.Type] == "" {
		return nil, fmt.Errorf("spec.gpu.type: %q is not a known GPU type", gpu.Type)
	}
	loc, err := modelLocation(svc.Spec.Model.Source, svc.Spec.Model.CacheClaimName)
	if err != nil {
		return nil, err
	}
	cfg := RuntimeConfig(svc, loc.dir)
	if t := opts.Tuned; t != nil && cfg.Cache.Enabled && TunerApplies(svc) {
		cfg.Cache.PromptRefreshInterval = int(t.PromptRefreshInterval)
		cfg.Cache.ResponseRefreshInterval = int(t.ResponseRefreshInterval)
		if t.TransferPercent != nil {
			cfg.Cache.TransferPercent = int(*t.TransferPercent)
		}
	}
	data, err := cfg.Marshal()
	if err != nil {
		return nil, err
	}
	hash, err := configHash(cfg)
	if err != nil {
		return nil, err
	}
	return &Objects{
		ConfigMap:    configMap(svc, data),
		Deployment:   deployment(svc, image, loc, hash),
		Service:      service(svc),
		Autoscaler:   autoscaler(svc),
		ScaledObject: scaledObject(svc),
	}, nil
}

// Tuned reports whether svc's cache settings are tuned online (spec.cache.mode Autotune).
func Tuned(svc *v1alpha1.DLLMService) bool {
	return or(svc.Spec.Cache.Mode, v1alpha1.DefaultCacheMode) == v1alpha1.CacheModeAutotune
}

// TunerApplies reports whether the tuner's settings reach the Pods (Autotune in Apply mode);
// in Recommend mode they are only reported.
func TunerApplies(svc *v1alpha1.DLLMService) bool {
	a := svc.Spec.Cache.Autotune
	return Tuned(svc) && a != nil && a.Mode == v1alpha1.AutotuneModeApply
}

// ConfigMapName is the name of the ConfigMap holding svc's runtime configuration.
func ConfigMapName(svc *v1alpha1.DLLMService) string { return svc.Name + "-runtime" }

// SelectorLabels are the labels that select svc's runtime Pods. They never change for the life of
// a DLLMService, since a Deployment's selector is immutable.
func SelectorLabels(svc *v1alpha1.DLLMService) map[string]string {
	return map[string]string{LabelName: RuntimeName, LabelInstance: svc.Name}
}

// Selector is SelectorLabels in the string form the scale subresource reports.
func Selector(svc *v1alpha1.DLLMService) string {
	return labels.SelectorFromSet(SelectorLabels(svc)).String()
}

// Endpoint is the in-cluster base URL of svc's OpenAI-compatible API.
func Endpoint(svc *v1alpha1.DLLMService) string {
	return fmt.Sprintf("http://%s.%s.svc:%d%s", svc.Name, svc.Namespace, Port(svc), contract.APIPath)
}

// Labels are the labels of every object the operator makes for svc, rendered or not.
func Labels(svc *v1alpha1.DLLMService) map[string]string {
	l := SelectorLabels(svc)
	l[LabelComponent] = "runtime"
	l[LabelManagedBy] = ManagedBy
	l[LabelDLLMService] = svc.Name
	return l
}

// ownerReference makes svc the controller of a child, so the child is garbage-collected with it
// and its changes trigger a reconcile of svc.
func ownerReference(svc *v1alpha1.DLLMService) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(v1alpha1.GroupVersion.String()).
		WithKind("DLLMService").
		WithName(svc.Name).
		WithUID(svc.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}

// objectMeta sets the metadata every child shares.
func objectMeta[T interface {
	WithLabels(map[string]string) T
	WithOwnerReferences(...*metav1ac.OwnerReferenceApplyConfiguration) T
}](obj T, svc *v1alpha1.DLLMService) T {
	return obj.WithLabels(Labels(svc)).WithOwnerReferences(ownerReference(svc))
}
