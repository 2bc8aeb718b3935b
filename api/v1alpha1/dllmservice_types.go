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

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DLLMServiceSpec is the desired state of a DLLMService: which diffusion language model to serve,
// on what hardware, how many replicas, and the sampler and dLLM-Cache settings requests start from.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.replicas) && has(self.autoscaling))",message="spec.replicas and spec.autoscaling are mutually exclusive: set one of them"
// +kubebuilder:validation:XValidation:rule="!has(self.runtime) || !has(self.runtime.backend) || self.runtime.backend != 'CUDA' || has(self.gpu)",message="spec.gpu is required when spec.runtime.backend is CUDA"
// +kubebuilder:validation:XValidation:rule="!has(self.runtime) || !has(self.runtime.backend) || self.runtime.backend != 'CPU' || !has(self.gpu)",message="spec.gpu must not be set when spec.runtime.backend is CPU"
// +kubebuilder:validation:XValidation:rule="!has(self.gpu) || !has(self.model.dtype) || self.model.dtype != 'Float16'",message="spec.model.dtype Float16 is not supported on GPUs: the CUDA backend computes in BFloat16 or Float32"
type DLLMServiceSpec struct {
	// model names the checkpoint to serve and how to read it.
	// +required
	Model ModelSpec `json:"model"`

	// runtime configures the runtime Pods: image, compute backend, port, resources and admission
	// limits. When omitted every field takes its documented default.
	// +optional
	Runtime RuntimeSpec `json:"runtime,omitzero"`

	// gpu requests accelerators for each runtime Pod. Required when runtime.backend is CUDA; when
	// runtime.backend is omitted, setting gpu selects CUDA and leaving it out selects CPU.
	// +optional
	GPU *GPUSpec `json:"gpu,omitempty"`

	// replicas is the number of runtime Pods. Defaults to 1. Mutually exclusive with autoscaling.
	// The scale subresource reads and writes this field, so an external autoscaler may own it.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	Replicas *int32 `json:"replicas,omitempty"`

	// autoscaling lets the operator scale the runtime Pods on a cache-aware metric between
	// minReplicas and maxReplicas. Mutually exclusive with replicas.
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`

	// generation holds the sampler defaults for requests that do not set their own.
	// +optional
	Generation GenerationSpec `json:"generation,omitzero"`

	// cache configures dLLM-Cache: the prompt and response refresh intervals, the transfer ratio,
	// and online autotuning of them. When omitted the cache runs in Static mode with the defaults
	// documented on each field.
	// +optional
	Cache CacheSpec `json:"cache,omitzero"`
}

// ModelFamily is a diffusion language model architecture the runtime implements.
// +kubebuilder:validation:Enum=LLaDA;Dream
type ModelFamily string

const (
	// ModelFamilyLLaDA is the LLaDA architecture (GSAI-ML/LLaDA-8B and its derivatives).
	ModelFamilyLLaDA ModelFamily = "LLaDA"
	// ModelFamilyDream is the Dream architecture (Dream-org/Dream-v0-7B, Qwen2-style weights).
	ModelFamilyDream ModelFamily = "Dream"
)

// DType is the floating-point format the runtime computes in.
// +kubebuilder:validation:Enum=BFloat16;Float16;Float32
type DType string

const (
	// DTypeBFloat16 is bfloat16, the format LLaDA and Dream are published in.
	DTypeBFloat16 DType = "BFloat16"
	// DTypeFloat16 is IEEE half precision. The CUDA backend does not compute in it, so a
	// DLLMService with spec.gpu may not ask for it.
	DTypeFloat16 DType = "Float16"
	// DTypeFloat32 is IEEE single precision.
	DTypeFloat32 DType = "Float32"
)

// ModelSpec names the checkpoint a DLLMService serves.
//
// +kubebuilder:validation:XValidation:rule="!has(self.tokenSecretRef) || self.source.startsWith('hf://')",message="spec.model.tokenSecretRef applies only to hf:// sources"
// +kubebuilder:validation:XValidation:rule="!has(self.cacheClaimName) || self.source.startsWith('hf://')",message="spec.model.cacheClaimName applies only to hf:// sources"
type ModelSpec struct {
	// family is the model architecture: LLaDA or Dream. The runtime checks it against the
	// checkpoint's config.json when it loads the weights.
	// +required
	Family ModelFamily `json:"family"`

	// source locates a Hugging Face checkpoint folder (config.json, tokenizer.json, safetensors).
	// Allowed forms: hf://ORG/NAME[@REVISION] (downloaded from the Hugging Face hub),
	// pvc://CLAIM[/PATH] (a PersistentVolumeClaim in the same namespace, mounted read-only),
	// file:///ABSOLUTE/PATH (a folder already present in the runtime container), and
	// oci://IMAGE (an OCI image mounted as a volume).
	// +required
	// +kubebuilder:validation:MinLength=6
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches('^(hf|pvc|file|oci)://')",message="spec.model.source must start with hf://, pvc://, file:// or oci://"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('hf://') || self.matches('^hf://[A-Za-z0-9][-A-Za-z0-9._]{0,95}/[A-Za-z0-9][-A-Za-z0-9._]{0,95}(@[A-Za-z0-9][-A-Za-z0-9._/]{0,127})?$')",message="spec.model.source must have the form hf://ORG/NAME or hf://ORG/NAME@REVISION"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('pvc://') || self.matches('^pvc://[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(/[-A-Za-z0-9._]+)*/?$')",message="spec.model.source must have the form pvc://CLAIM[/PATH] with CLAIM a lowercase DNS label"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('file://') || self.matches('^file:///[-A-Za-z0-9._/]+$')",message="spec.model.source must have the form file:///ABSOLUTE/PATH"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('oci://') || self.matches('^oci://[a-z0-9][-a-z0-9._]*(:[0-9]+)?(/[a-z0-9][-a-z0-9._]*)*(:[A-Za-z0-9_][-A-Za-z0-9._]{0,127})?(@sha256:[a-f0-9]{64})?$')",message="spec.model.source must have the form oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]"
	// +kubebuilder:validation:XValidation:rule="!self.matches('/[.][.]?(/|$)')",message="spec.model.source must not contain . or .. path segments"
	Source string `json:"source"`

	// dtype is the format the runtime computes in. Defaults to BFloat16.
	// +optional
	DType DType `json:"dtype,omitempty"`

	// tokenSecretRef names the Secret key holding a Hugging Face token, for gated or private
	// hf:// repositories. The token reaches only the init container that pulls the weights.
	// +optional
	TokenSecretRef *SecretKeyRef `json:"tokenSecretRef,omitempty"`

	// cacheClaimName names a PersistentVolumeClaim in the same namespace that hf:// weights are
	// pulled into, so restarts and further replicas find them there and download nothing. A
	// ReadWriteMany claim is one cache for every replica; a ReadWriteOnce claim pins the
	// replicas to the node that mounts it. Without it each Pod pulls into an emptyDir.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	CacheClaimName string `json:"cacheClaimName,omitempty"`
}

// SecretKeyRef names one key of a Secret in the DLLMService's namespace.
type SecretKeyRef struct {
	// name is the Secret's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// key is the key within the Secret. Defaults to "token".
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// Backend is the compute backend of the runtime.
// +kubebuilder:validation:Enum=CUDA;CPU
type Backend string

const (
	// BackendCUDA runs the model on NVIDIA GPUs.
	BackendCUDA Backend = "CUDA"
	// BackendCPU runs the model on the CPU.
	BackendCPU Backend = "CPU"
)

// RuntimeSpec configures the runtime Pods.
//
// +kubebuilder:validation:XValidation:rule="!has(self.resources) || !has(self.resources.limits) || !('nvidia.com/gpu' in self.resources.limits)",message="spec.runtime.resources must not request nvidia.com/gpu: set spec.gpu.count instead"
// +kubebuilder:validation:XValidation:rule="!has(self.resources) || !has(self.resources.requests) || !('nvidia.com/gpu' in self.resources.requests)",message="spec.runtime.resources must not request nvidia.com/gpu: set spec.gpu.count instead"
type RuntimeSpec struct {
	// image is the runtime container image. Defaults to the image the operator was started with
	// (its --runtime-image flag).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.matches('[[:space:]]')",message="spec.runtime.image must not contain whitespace"
	Image string `json:"image,omitempty"`

	// backend is the compute backend: CUDA or CPU. Defaults to CUDA when gpu is set and to CPU
	// otherwise.
	// +optional
	Backend Backend `json:"backend,omitempty"`

	// port is the container port of the OpenAI-compatible HTTP API, the health probes and the
	// metrics. Defaults to 8000. Ports below 1024 are not allowed because the runtime runs as a
	// non-root user.
	// +optional
	// +kubebuilder:validation:Minimum=1024
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// resources are the CPU and memory requests and limits of the runtime container. GPUs are
	// requested through spec.gpu, never here.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// maxBatchSize is the most requests one runtime Pod denoises together. Defaults to 8.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=256
	MaxBatchSize int32 `json:"maxBatchSize,omitempty"`

	// maxQueue is the most requests one runtime Pod holds waiting; further requests are answered
	// with HTTP 429. Defaults to 64.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	MaxQueue int32 `json:"maxQueue,omitempty"`
}

// GPUType is an accelerator model. The controller maps it to a node selector on the product
// label that NVIDIA GPU Feature Discovery sets.
// +kubebuilder:validation:Enum=H200;H100;A100-80GB;A100-40GB;L40S;L4;A10G
type GPUType string

// GPU types. controllers/render maps each to a node selector; its tests check that every value
// of the enum above has a mapping.
const (
	GPUTypeH200     GPUType = "H200"
	GPUTypeH100     GPUType = "H100"
	GPUTypeA100_80G GPUType = "A100-80GB"
	GPUTypeA100_40G GPUType = "A100-40GB"
	GPUTypeL40S     GPUType = "L40S"
	GPUTypeL4       GPUType = "L4"
	GPUTypeA10G     GPUType = "A10G"
)

// GPUSpec requests accelerators for each runtime Pod.
type GPUSpec struct {
	// type is the accelerator model: H200, H100, A100-80GB, A100-40GB, L40S, L4 or A10G.
	// +required
	Type GPUType `json:"type"`

	// count is the number of GPUs per runtime Pod, from 1 to 8.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=8
	Count int32 `json:"count"`
}

// AutoscalingMetric is the per-Pod signal autoscaling follows.
// +kubebuilder:validation:Enum=Saturation;QueueDepth;PendingSteps
type AutoscalingMetric string

const (
	// AutoscalingMetricSaturation is the runtime's saturation in percent: the denoising steps
	// per second its traffic asks for over those it delivers under the active cache settings.
	AutoscalingMetricSaturation AutoscalingMetric = "Saturation"
	// AutoscalingMetricQueueDepth is the number of requests waiting in a runtime Pod's queue.
	AutoscalingMetricQueueDepth AutoscalingMetric = "QueueDepth"
	// AutoscalingMetricPendingSteps is the number of denoising steps queued and in flight.
	AutoscalingMetricPendingSteps AutoscalingMetric = "PendingSteps"
)

// AutoscalingSpec scales the runtime Pods on a per-Pod metric.
//
// +kubebuilder:validation:XValidation:rule="!has(self.minReplicas) || self.minReplicas <= self.maxReplicas",message="spec.autoscaling.minReplicas must not exceed spec.autoscaling.maxReplicas"
// +kubebuilder:validation:XValidation:rule="!has(self.target) || (has(self.metric) && self.metric != 'Saturation') || self.target <= 100",message="spec.autoscaling.target is a percent from 1 to 100 when spec.autoscaling.metric is Saturation"
type AutoscalingSpec struct {
	// minReplicas is the fewest runtime Pods. Defaults to 1.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MinReplicas *int32 `json:"minReplicas,omitempty"`

	// maxReplicas is the most runtime Pods.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxReplicas int32 `json:"maxReplicas"`

	// metric is the per-Pod signal to follow: Saturation (default), QueueDepth or PendingSteps.
	// +optional
	Metric AutoscalingMetric `json:"metric,omitempty"`

	// target is the per-Pod average the autoscaler holds the metric at. For Saturation it is a
	// percent (default 80); for QueueDepth a number of requests (default 4); for PendingSteps a
	// number of denoising steps (default 2048).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	Target int32 `json:"target,omitempty"`

	// keda, when set, scales with a KEDA ScaledObject instead of a HorizontalPodAutoscaler: KEDA
	// asks Prometheus for the metric itself, so no metrics adapter is needed (KEDA must be
	// installed).
	// +optional
	KEDA *KEDASpec `json:"keda,omitempty"`
}

// KEDASpec configures scaling through KEDA's Prometheus scaler.
type KEDASpec struct {
	// prometheusAddress is the URL of the Prometheus server that scrapes the runtime Pods (with
	// their namespace and pod labels), e.g. http://prometheus-operated.monitoring.svc:9090.
	// +required
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/]+')",message="spec.autoscaling.keda.prometheusAddress must be an http:// or https:// URL"
	PrometheusAddress string `json:"prometheusAddress"`
}

// Remasking is the rule that picks which masked positions a denoising step commits.
// +kubebuilder:validation:Enum=LowConfidence;Random;Margin;Entropy
type Remasking string

const (
	// RemaskingLowConfidence commits the positions whose predicted token has the highest
	// probability (LLaDA's low_confidence).
	RemaskingLowConfidence Remasking = "LowConfidence"
	// RemaskingRandom commits positions chosen uniformly at random.
	RemaskingRandom Remasking = "Random"
	// RemaskingMargin commits the positions with the largest gap between the top two
	// probabilities (Dream's topk_margin).
	RemaskingMargin Remasking = "Margin"
	// RemaskingEntropy commits the positions whose predictive distribution has the lowest
	// entropy (Dream's entropy).
	RemaskingEntropy Remasking = "Entropy"
)

// GenerationSpec holds the sampler defaults for requests that do not set their own.
// The CEL rules below restate the documented defaults (genLength 128, blockLength 32, steps 128)
// so that a partly set spec is checked as it will run.
//
// +kubebuilder:validation:XValidation:rule="(has(self.genLength) ? self.genLength : 128) % (has(self.blockLength) ? self.blockLength : 32) == 0",message="spec.generation.blockLength must divide spec.generation.genLength (defaults: genLength 128, blockLength 32)"
// +kubebuilder:validation:XValidation:rule="(has(self.genLength) ? self.genLength : 128) % (has(self.blockLength) ? self.blockLength : 32) != 0 || (has(self.steps) ? self.steps : 128) % ((has(self.genLength) ? self.genLength : 128) / (has(self.blockLength) ? self.blockLength : 32)) == 0",message="spec.generation.steps must be a multiple of the number of blocks, genLength / blockLength (defaults: steps 128, genLength 128, blockLength 32)"
type GenerationSpec struct {
	// steps is the number of denoising steps (forward passes) per request. Defaults to 128.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4096
	Steps int32 `json:"steps,omitempty"`

	// genLength is the number of response tokens generated per request. Defaults to 128.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4096
	GenLength int32 `json:"genLength,omitempty"`

	// blockLength is the length of the semi-autoregressive blocks the response is denoised in,
	// left to right. It must divide genLength. Defaults to 32.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4096
	BlockLength int32 `json:"blockLength,omitempty"`

	// remasking picks which masked positions each step commits: LowConfidence (default), Random,
	// Margin or Entropy.
	// +optional
	Remasking Remasking `json:"remasking,omitempty"`

	// temperatureMilli is the sampling temperature in thousandths (700 means 0.7). Defaults to 0:
	// greedy decoding.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2000
	TemperatureMilli *int32 `json:"temperatureMilli,omitempty"`

	// parallelThresholdPermille enables confidence-aware parallel decoding: a step also commits
	// every masked position of the current block whose confidence is at least this many
	// thousandths (900 means 0.9). When omitted each step commits the scheduled number of tokens.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	ParallelThresholdPermille int32 `json:"parallelThresholdPermille,omitempty"`
}

// CacheMode selects how dLLM-Cache settings are chosen.
// +kubebuilder:validation:Enum=Off;Static;Autotune
type CacheMode string

const (
	// CacheModeOff disables the feature cache: every step recomputes every token.
	CacheModeOff CacheMode = "Off"
	// CacheModeStatic runs the cache with the settings in the spec.
	CacheModeStatic CacheMode = "Static"
	// CacheModeAutotune starts from the settings in the spec and lets the operator tune them
	// within autotune.bounds while the measured quality stays above autotune.qualityFloorPermille.
	CacheModeAutotune CacheMode = "Autotune"
)

// CacheSpec configures dLLM-Cache (arXiv 2506.06295): cached prompt features are refreshed every
// promptRefreshInterval forward passes, cached response features every responseRefreshInterval,
// and in between the transferPercent of response tokens whose value vectors changed most are
// recomputed.
//
// +kubebuilder:validation:XValidation:rule="!has(self.autotune) || (has(self.mode) && self.mode == 'Autotune')",message="spec.cache.autotune may be set only when spec.cache.mode is Autotune"
// +kubebuilder:validation:XValidation:rule="!has(self.autotune) || !has(self.autotune.bounds) || !has(self.autotune.bounds.promptRefreshInterval) || ((has(self.promptRefreshInterval) ? self.promptRefreshInterval : 100) >= self.autotune.bounds.promptRefreshInterval.min && (has(self.promptRefreshInterval) ? self.promptRefreshInterval : 100) <= self.autotune.bounds.promptRefreshInterval.max)",message="spec.cache.promptRefreshInterval (default 100) must lie within spec.cache.autotune.bounds.promptRefreshInterval"
// +kubebuilder:validation:XValidation:rule="!has(self.autotune) || !has(self.autotune.bounds) || !has(self.autotune.bounds.responseRefreshInterval) || ((has(self.responseRefreshInterval) ? self.responseRefreshInterval : 7) >= self.autotune.bounds.responseRefreshInterval.min && (has(self.responseRefreshInterval) ? self.responseRefreshInterval : 7) <= self.autotune.bounds.responseRefreshInterval.max)",message="spec.cache.responseRefreshInterval (default 7) must lie within spec.cache.autotune.bounds.responseRefreshInterval"
// +kubebuilder:validation:XValidation:rule="!has(self.autotune) || !has(self.autotune.bounds) || !has(self.autotune.bounds.transferPercent) || ((has(self.transferPercent) ? self.transferPercent : 25) >= self.autotune.bounds.transferPercent.min && (has(self.transferPercent) ? self.transferPercent : 25) <= self.autotune.bounds.transferPercent.max)",message="spec.cache.transferPercent (default 25) must lie within spec.cache.autotune.bounds.transferPercent"
type CacheSpec struct {
	// mode is Off, Static (default) or Autotune. Quote "Off" in YAML: YAML 1.1, which kubectl
	// reads, takes a bare Off for the boolean false.
	// +optional
	Mode CacheMode `json:"mode,omitempty"`

	// promptRefreshInterval (K_p) is the number of forward passes between full recomputations of
	// the prompt's cached features. Defaults to 100. 1 recomputes the prompt at every step.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	PromptRefreshInterval int32 `json:"promptRefreshInterval,omitempty"`

	// responseRefreshInterval (K_r) is the number of forward passes between full recomputations of
	// the response's cached features. Defaults to 7.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	ResponseRefreshInterval int32 `json:"responseRefreshInterval,omitempty"`

	// transferPercent (rho, as a percent) is the share of response tokens recomputed at steps
	// between response refreshes, chosen by how much their value vectors changed. Defaults to 25.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	TransferPercent *int32 `json:"transferPercent,omitempty"`

	// autotune bounds and guards online tuning. Allowed only when mode is Autotune.
	// +optional
	Autotune *AutotuneSpec `json:"autotune,omitempty"`
}

// AutotuneMode says whether tuned cache settings are only reported or also applied.
// +kubebuilder:validation:Enum=Recommend;Apply
type AutotuneMode string

const (
	// AutotuneModeRecommend reports the settings the tuner would choose in status only.
	AutotuneModeRecommend AutotuneMode = "Recommend"
	// AutotuneModeApply applies the tuned settings to the running Pods without restarts.
	AutotuneModeApply AutotuneMode = "Apply"
)

// AutotuneSpec bounds and guards the online tuning of the cache settings.
type AutotuneSpec struct {
	// mode is Recommend (default: report in status only) or Apply.
	// +optional
	Mode AutotuneMode `json:"mode,omitempty"`

	// qualityFloorPermille is the lowest acceptable agreement, in thousandths, between cached and
	// uncached outputs of the shadow-checked requests. Defaults to 980.
	// +optional
	// +kubebuilder:validation:Minimum=500
	// +kubebuilder:validation:Maximum=1000
	QualityFloorPermille int32 `json:"qualityFloorPermille,omitempty"`

	// latencyTarget is the request latency (p95) the tuner aims for, e.g. "2s". When omitted the
	// tuner minimises latency subject to the quality floor.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.cache.autotune.latencyTarget must be a duration such as 500ms or 2s"
	LatencyTarget *metav1.Duration `json:"latencyTarget,omitempty"`

	// shadowPercent is the percent of requests the runtime also computes without the cache to
	// measure agreement. Defaults to 5.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	ShadowPercent int32 `json:"shadowPercent,omitempty"`

	// bounds limit the settings the tuner may choose. A setting without bounds is not tuned.
	// +optional
	Bounds AutotuneBounds `json:"bounds,omitzero"`
}

// AutotuneBounds limits each tuned setting to a closed range.
type AutotuneBounds struct {
	// promptRefreshInterval bounds K_p.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.min <= self.max",message="spec.cache.autotune.bounds.promptRefreshInterval.min must not exceed max"
	PromptRefreshInterval *IntervalRange `json:"promptRefreshInterval,omitempty"`

	// responseRefreshInterval bounds K_r.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.min <= self.max",message="spec.cache.autotune.bounds.responseRefreshInterval.min must not exceed max"
	ResponseRefreshInterval *IntervalRange `json:"responseRefreshInterval,omitempty"`

	// transferPercent bounds rho, in percent.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.min <= self.max",message="spec.cache.autotune.bounds.transferPercent.min must not exceed max"
	TransferPercent *PercentRange `json:"transferPercent,omitempty"`
}

// IntervalRange is a closed range of refresh intervals, in forward passes.
type IntervalRange struct {
	// min is the smallest allowed interval.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	Min int32 `json:"min"`

	// max is the largest allowed interval.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	Max int32 `json:"max"`
}

// PercentRange is a closed range of percentages.
type PercentRange struct {
	// min is the smallest allowed percent.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Min int32 `json:"min"`

	// max is the largest allowed percent.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Max int32 `json:"max"`
}

// DLLMServiceStatus is the observed state of a DLLMService, computed by the controller from the
// objects it owns.
type DLLMServiceStatus struct {
	// conditions are Ready, Progressing and Degraded.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the metadata.generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// replicas is the number of runtime Pods that exist.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// readyReplicas is the number of runtime Pods that are ready to serve.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// selector is the label selector of the runtime Pods, in string form, for the scale
	// subresource.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Selector string `json:"selector,omitempty"`

	// endpoint is the in-cluster base URL of the OpenAI-compatible API.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Endpoint string `json:"endpoint,omitempty"`

	// cache reports the dLLM-Cache settings the runtime Pods are given.
	// +optional
	Cache CacheStatus `json:"cache,omitzero"`
}

// CacheSettingsSource says where the active cache settings came from.
// +kubebuilder:validation:Enum=Spec;Autotune
type CacheSettingsSource string

const (
	// CacheSettingsSourceSpec means the settings are the spec's (with defaults applied).
	CacheSettingsSourceSpec CacheSettingsSource = "Spec"
	// CacheSettingsSourceAutotune means the settings were chosen by the autotuner.
	CacheSettingsSourceAutotune CacheSettingsSource = "Autotune"
)

// CacheStatus reports the cache settings in force.
type CacheStatus struct {
	// active holds the settings rendered into the runtime configuration.
	// +optional
	Active CacheSettings `json:"active,omitzero"`

	// source says where the active settings came from: Spec or Autotune.
	// +optional
	Source CacheSettingsSource `json:"source,omitempty"`

	// autotune reports the online tuner, when spec.cache.mode is Autotune.
	// +optional
	Autotune *AutotuneStatus `json:"autotune,omitempty"`
}

// AutotunePhase is where the tuner stands.
// +kubebuilder:validation:Enum=Waiting;Exploring;Converged;Frozen
type AutotunePhase string

const (
	// AutotunePhaseWaiting means no window of observations yet (no ready Pod, no traffic, or no
	// shadow samples).
	AutotunePhaseWaiting AutotunePhase = "Waiting"
	// AutotunePhaseExploring means measuring the best settings or a candidate.
	AutotunePhaseExploring AutotunePhase = "Exploring"
	// AutotunePhaseConverged means keeping the best settings and watching them.
	AutotunePhaseConverged AutotunePhase = "Converged"
	// AutotunePhaseFrozen means the freeze annotation stopped the tuner; the last settings stay.
	AutotunePhaseFrozen AutotunePhase = "Frozen"
)

// AnnotationAutotuneFreeze is the annotation that, set to "true" on a DLLMService, stops its tuner: the settings in
// force stay, nothing is explored or reverted, until the annotation is removed.
const AnnotationAutotuneFreeze = "serving.dllm.dev/autotune-freeze"

// AutotuneStatus is the tuner's state as users and dashboards read it.
type AutotuneStatus struct {
	// phase is Waiting, Exploring, Converged or Frozen.
	// +optional
	Phase AutotunePhase `json:"phase,omitempty"`

	// best are the fastest settings whose agreement held the quality floor. In Apply mode the
	// Pods run them (or the candidate); in Recommend mode they are the recommendation.
	// +optional
	Best *CacheSettings `json:"best,omitempty"`

	// candidate, while exploring, are the settings being measured.
	// +optional
	Candidate *CacheSettings `json:"candidate,omitempty"`

	// observed is the last window of observations.
	// +optional
	Observed *AutotuneObservation `json:"observed,omitempty"`

	// lastDecisions are the tuner's latest decisions that changed something, newest last.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	LastDecisions []AutotuneDecision `json:"lastDecisions,omitempty"`
}

// AutotuneObservation is one window of what the runtime Pods reported.
type AutotuneObservation struct {
	// settings are the cache settings the window was observed under.
	// +optional
	Settings CacheSettings `json:"settings,omitzero"`

	// pods is how many Pods contributed to the window.
	// +optional
	Pods int32 `json:"pods,omitempty"`

	// requests is how many requests finished in the window.
	// +optional
	Requests int32 `json:"requests,omitempty"`

	// meanLatency is the requests' mean latency.
	// +optional
	MeanLatency *metav1.Duration `json:"meanLatency,omitempty"`
	// p95Latency is the requests' 95th-percentile latency, from the runtime's histogram.
	// +optional
	P95Latency *metav1.Duration `json:"p95Latency,omitempty"`

	// shadowSamples is how many requests were also computed without the cache.
	// +optional
	ShadowSamples int32 `json:"shadowSamples,omitempty"`
	// agreementPermille is those requests' mean share of response tokens equal to the cached
	// output's, in thousandths.
	// +optional
	AgreementPermille int32 `json:"agreementPermille,omitempty"`

	// tokensPerSecond is the response tokens generated per second, over all Pods.
	// +optional
	TokensPerSecond int32 `json:"tokensPerSecond,omitempty"`

	// saturationPermille is the Pods' mean demand over capacity, in thousandths.
	// +optional
	SaturationPermille int32 `json:"saturationPermille,omitempty"`
}

// AutotuneDecision is one decision of the tuner, with its reason.
type AutotuneDecision struct {
	// time is when the decision was made.
	// +required
	Time metav1.Time `json:"time"`

	// action is Explore, Accept, Reject, Revert, Converge or Reexplore.
	// +required
	// +kubebuilder:validation:MaxLength=32
	Action string `json:"action"`

	// from is the settings before the decision.
	// +optional
	From CacheSettings `json:"from,omitzero"`
	// to is the settings after the decision.
	// +optional
	To CacheSettings `json:"to,omitzero"`

	// reason explains the decision.
	// +required
	// +kubebuilder:validation:MaxLength=512
	Reason string `json:"reason"`
}

// CacheSettings is one complete choice of cache settings, defaults applied.
type CacheSettings struct {
	// mode is Off, Static or Autotune.
	// +optional
	Mode CacheMode `json:"mode,omitempty"`

	// promptRefreshInterval is K_p. Omitted when mode is Off.
	// +optional
	PromptRefreshInterval int32 `json:"promptRefreshInterval,omitempty"`

	// responseRefreshInterval is K_r. Omitted when mode is Off.
	// +optional
	ResponseRefreshInterval int32 `json:"responseRefreshInterval,omitempty"`

	// transferPercent is rho in percent. Omitted when mode is Off.
	// +optional
	TransferPercent *int32 `json:"transferPercent,omitempty"`
}

// DLLMService serves a diffusion language model (LLaDA, Dream) behind an OpenAI-compatible API,
// with dLLM-Cache settings that the operator can tune online.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=dllm,categories={dllm,ai}
// +kubebuilder:printcolumn:name="Model",type=string,JSONPath=".spec.model.family"
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=".spec.model.source",priority=1
// +kubebuilder:printcolumn:name="GPU",type=string,JSONPath=".spec.gpu.type"
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=".status.replicas"
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=".status.readyReplicas"
// +kubebuilder:printcolumn:name="K_p",type=integer,JSONPath=".status.cache.active.promptRefreshInterval"
// +kubebuilder:printcolumn:name="K_r",type=integer,JSONPath=".status.cache.active.responseRefreshInterval"
// +kubebuilder:printcolumn:name="Rho%",type=integer,JSONPath=".status.cache.active.transferPercent"
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=".status.conditions[?(@.type==\"Ready\")].reason"
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=".status.endpoint",priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 52",message="metadata.name must be a lowercase RFC 1035 label of at most 52 characters, since it names the Service"
type DLLMService struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired state.
	// +required
	Spec DLLMServiceSpec `json:"spec"`

	// status is the observed state, written only by the controller.
	// +optional
	Status DLLMServiceStatus `json:"status,omitzero"`
}

// DLLMServiceList is a list of DLLMServices.
//
// +kubebuilder:object:root=true
type DLLMServiceList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitzero"`
	// items are the DLLMServices of the list.
	Items []DLLMService `json:"items"`
}
