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
)

// Options are the operator-wide settings render needs besides the DLLMService.
type Options struct {
	// RuntimeImage is the runtime image used when spec.runtime.image is empty.
	RuntimeImage string
}

// Objects are the desired children of one DLLMService.
type Objects struct {
	ConfigMap  *corev1ac.ConfigMapApplyConfiguration
	Deployment *appsv1ac.DeploymentApplyConfiguration
	Service    *corev1ac.ServiceApplyConfiguration
	// Autoscaler is nil when spec.autoscaling is unset; a stale one must then be deleted.
	Autoscaler *autoscalingv2ac.HorizontalPodAutoscalerApplyConfiguration
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
	data, err := cfg.Marshal()
	if err != nil {
		return nil, err
	}
	hash, err := configHash(cfg)
	if err != nil {
		return nil, err
	}
	return &Objects{
		ConfigMap:  configMap(svc, data),
		Deployment: deployment(svc, image, loc, hash),
		Service:    service(svc),
		Autoscaler: autoscaler(svc),
	}, nil
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

// objectLabels are the labels of every object rendered for svc.
func objectLabels(svc *v1alpha1.DLLMService) map[string]string {
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
	return obj.WithLabels(objectLabels(svc)).WithOwnerReferences(ownerReference(svc))
}
