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
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/runtime/contract"
)

func service(svc *v1alpha1.DLLMService) *corev1ac.ServiceApplyConfiguration {
	return objectMeta(corev1ac.Service(svc.Name, svc.Namespace), svc).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(SelectorLabels(svc)).
			WithPorts(corev1ac.ServicePort().
				WithName(contract.PortName).
				WithProtocol(corev1.ProtocolTCP).
				WithAppProtocol("http").
				WithPort(Port(svc)).
				WithTargetPort(intstr.FromString(contract.PortName))))
}
