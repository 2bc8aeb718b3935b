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

	"dllm.dev/dllm-operator/api/v1alpha1"
)

// GPUResource is the extended resource NVIDIA's device plugin advertises.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// GPUProductLabel is the node label NVIDIA GPU Feature Discovery sets to the GPU's product name.
const GPUProductLabel = "nvidia.com/gpu.product"

// gpuProducts maps each GPUType to the GPUProductLabel value of the nodes that have it. This is
// the one table of GPU names; the tests check it covers every value the API allows.
var gpuProducts = map[v1alpha1.GPUType]string{
	v1alpha1.GPUTypeH200:     "NVIDIA-H200",
	v1alpha1.GPUTypeH100:     "NVIDIA-H100-80GB-HBM3",
	v1alpha1.GPUTypeA100_80G: "NVIDIA-A100-SXM4-80GB",
	v1alpha1.GPUTypeA100_40G: "NVIDIA-A100-SXM4-40GB",
	v1alpha1.GPUTypeL40S:     "NVIDIA-L40S",
	v1alpha1.GPUTypeL4:       "NVIDIA-L4",
	v1alpha1.GPUTypeA10G:     "NVIDIA-A10G",
}
