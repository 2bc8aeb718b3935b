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
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	autoscalingv2ac "k8s.io/client-go/applyconfigurations/autoscaling/v2"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/runtime/contract"
)

// autoscaler renders the HorizontalPodAutoscaler for spec.autoscaling, or nil without it. The
// metric is a Pods metric named after the runtime's own metric, which an adapter such as
// prometheus-adapter serves through the custom metrics API.
func autoscaler(svc *v1alpha1.DLLMService) *autoscalingv2ac.HorizontalPodAutoscalerApplyConfiguration {
	a := svc.Spec.Autoscaling
	if a == nil || a.KEDA != nil {
		return nil
	}
	name, target := scalingMetric(a)
	return objectMeta(autoscalingv2ac.HorizontalPodAutoscaler(svc.Name, svc.Namespace), svc).
		WithSpec(autoscalingv2ac.HorizontalPodAutoscalerSpec().
			WithScaleTargetRef(autoscalingv2ac.CrossVersionObjectReference().
				WithAPIVersion("apps/v1").WithKind("Deployment").WithName(svc.Name)).
			WithMinReplicas(or(ptrValue(a.MinReplicas), v1alpha1.DefaultMinReplicas)).
			WithMaxReplicas(a.MaxReplicas).
			WithMetrics(autoscalingv2ac.MetricSpec().
				WithType(autoscalingv2.PodsMetricSourceType).
				WithPods(autoscalingv2ac.PodsMetricSource().
					WithMetric(autoscalingv2ac.MetricIdentifier().WithName(name)).
					WithTarget(autoscalingv2ac.MetricTarget().
						WithType(autoscalingv2.AverageValueMetricType).
						WithAverageValue(*target)))))
}

// scalingMetric is the runtime metric spec.autoscaling follows and its per-Pod target.
func scalingMetric(a *v1alpha1.AutoscalingSpec) (string, *resource.Quantity) {
	switch or(a.Metric, v1alpha1.DefaultAutoscalingMetric) {
	case v1alpha1.AutoscalingMetricQueueDepth:
		return contract.MetricQueueDepth, resourceQuantity(or(a.Target, v1alpha1.DefaultQueueDepthTarget))
	case v1alpha1.AutoscalingMetricPendingSteps:
		return contract.MetricPendingSteps, resourceQuantity(or(a.Target, v1alpha1.DefaultPendingStepsTarget))
	default:
		// The spec's target is a percent; the runtime exports a ratio: 80 -> 800m.
		percent := or(a.Target, v1alpha1.DefaultSaturationTarget)
		return contract.MetricSaturation, resource.NewMilliQuantity(int64(percent)*10, resource.DecimalSI)
	}
}

// ScaledObjectGVK is the kind of KEDA's ScaledObject.
var ScaledObjectGVK = schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"}

// scaledObject renders the KEDA ScaledObject of spec.autoscaling.keda, or nil. Its Prometheus
// trigger sums the metric over the runtime Pods (by their names, which a Deployment derives
// from its own) and KEDA's HPA divides by the Pods, so the target is per Pod as with the HPA.
func scaledObject(svc *v1alpha1.DLLMService) *unstructured.Unstructured {
	a := svc.Spec.Autoscaling
	if a == nil || a.KEDA == nil {
		return nil
	}
	name, target := scalingMetric(a)
	query := fmt.Sprintf(`sum(%s{namespace=%q,pod=~%q})`, name, svc.Namespace, svc.Name+"-[a-z0-9]+-[a-z0-9]+")
	u := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": svc.Name, "namespace": svc.Namespace},
		"spec": map[string]any{
			"scaleTargetRef":  map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": svc.Name},
			"minReplicaCount": int64(or(ptrValue(a.MinReplicas), v1alpha1.DefaultMinReplicas)),
			"maxReplicaCount": int64(a.MaxReplicas),
			"triggers": []any{map[string]any{
				"type":       "prometheus",
				"metricType": "AverageValue",
				"metadata": map[string]any{
					"serverAddress": a.KEDA.PrometheusAddress,
					"query":         query,
					"threshold":     target.AsDec().String(),
				},
			}},
		},
	}}
	u.SetGroupVersionKind(ScaledObjectGVK)
	u.SetLabels(Labels(svc))
	u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "DLLMService",
		Name: svc.Name, UID: svc.UID, Controller: new(true), BlockOwnerDeletion: new(true)}})
	return u
}

func resourceQuantity(n int32) *resource.Quantity {
	return resource.NewQuantity(int64(n), resource.DecimalSI)
}

// ptrValue is *p, or the zero value when p is nil.
func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
