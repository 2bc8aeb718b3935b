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
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	autoscalingv2ac "k8s.io/client-go/applyconfigurations/autoscaling/v2"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/runtime/contract"
)

// autoscaler renders the HorizontalPodAutoscaler for spec.autoscaling, or nil without it. The
// metric is a Pods metric named after the runtime's own metric, which an adapter such as
// prometheus-adapter serves through the custom metrics API.
func autoscaler(svc *v1alpha1.DLLMService) *autoscalingv2ac.HorizontalPodAutoscalerApplyConfiguration {
	a := svc.Spec.Autoscaling
	if a == nil {
		return nil
	}
	metric := or(a.Metric, v1alpha1.DefaultAutoscalingMetric)
	var name string
	var target *resource.Quantity
	switch metric {
	case v1alpha1.AutoscalingMetricQueueDepth:
		name, target = contract.MetricQueueDepth, resourceQuantity(or(a.Target, v1alpha1.DefaultQueueDepthTarget))
	case v1alpha1.AutoscalingMetricPendingSteps:
		name, target = contract.MetricPendingSteps, resourceQuantity(or(a.Target, v1alpha1.DefaultPendingStepsTarget))
	default:
		// The spec's target is a percent; the runtime exports a ratio: 80 -> 800m.
		percent := or(a.Target, v1alpha1.DefaultSaturationTarget)
		name, target = contract.MetricSaturation, resource.NewMilliQuantity(int64(percent)*10, resource.DecimalSI)
	}
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
