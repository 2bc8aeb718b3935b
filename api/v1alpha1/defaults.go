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

// Defaults applied by controllers/render when a DLLMService's spec leaves a field out. They are
// never written into stored objects. The CEL rules on GenerationSpec and CacheSpec restate some of them;
// the integration tests check that the two agree.
const (
	DefaultDType = DTypeBFloat16
	// DefaultTokenSecretKey is the Secret key of spec.model.tokenSecretRef when it names none.
	DefaultTokenSecretKey = "token"
	DefaultReplicas       = int32(1)
	DefaultPort           = int32(8000)
	DefaultMaxBatchSize   = int32(8)
	DefaultMaxQueue       = int32(64)

	DefaultMinReplicas        = int32(1)
	DefaultAutoscalingMetric  = AutoscalingMetricSaturation
	DefaultSaturationTarget   = int32(80)
	DefaultQueueDepthTarget   = int32(4)
	DefaultPendingStepsTarget = int32(2048)

	DefaultSteps            = int32(128)
	DefaultGenLength        = int32(128)
	DefaultBlockLength      = int32(32)
	DefaultRemasking        = RemaskingLowConfidence
	DefaultTemperatureMilli = int32(0)

	// The cache defaults are the dLLM-Cache demo settings (K_p = 100, K_r = 7, rho = 0.25).
	DefaultCacheMode               = CacheModeStatic
	DefaultPromptRefreshInterval   = int32(100)
	DefaultResponseRefreshInterval = int32(7)
	DefaultTransferPercent         = int32(25)

	DefaultAutotuneMode         = AutotuneModeRecommend
	DefaultQualityFloorPermille = int32(980)
	DefaultShadowPercent        = int32(5)
)
