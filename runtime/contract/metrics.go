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

package contract

// Metric names the runtime exports on MetricsPath and the operator reads. They follow the
// Prometheus conventions: the dllm_ prefix, base units in the name, _total on counters. Labels are
// bounded: none carries a request ID or prompt.
const (
	// MetricRequestDuration is a histogram of end-to-end request latency in seconds.
	MetricRequestDuration = "dllm_request_duration_seconds"
	// MetricQueueWait is a histogram of the seconds a request waited for a batch slot.
	MetricQueueWait = "dllm_queue_wait_seconds"
	// MetricForwardDuration is a histogram of one forward pass's latency in seconds.
	MetricForwardDuration = "dllm_forward_duration_seconds"
	// MetricRequestSteps is a histogram of denoising steps per request.
	MetricRequestSteps = "dllm_request_steps"
	// MetricGeneratedTokens counts response tokens generated.
	MetricGeneratedTokens = "dllm_generated_tokens_total"
	// MetricQueueDepth is a gauge of requests waiting for a batch slot.
	MetricQueueDepth = "dllm_queue_depth"
	// MetricInFlight is a gauge of requests being denoised.
	MetricInFlight = "dllm_requests_in_flight"
	// MetricPendingSteps is a gauge of denoising steps queued and in flight.
	MetricPendingSteps = "dllm_pending_steps"
	// MetricSaturation is a gauge from 0 to 1: the share of batch capacity in use, weighted by
	// the denoising work the admitted requests still need.
	MetricSaturation = "dllm_saturation_ratio"

	// MetricCacheRefreshes counts feature-cache refreshes, labelled by kind (prompt, response).
	MetricCacheRefreshes = "dllm_cache_refreshes_total"
	// MetricCacheTokensRecomputed counts token positions whose features were recomputed.
	MetricCacheTokensRecomputed = "dllm_cache_tokens_recomputed_total"
	// MetricCacheTokensReused counts token positions whose cached features were reused.
	MetricCacheTokensReused = "dllm_cache_tokens_reused_total"
	// MetricFLOPsSpent counts floating-point operations executed by forward passes.
	MetricFLOPsSpent = "dllm_flops_spent_total"
	// MetricFLOPsSaved counts floating-point operations the cache avoided.
	MetricFLOPsSaved = "dllm_flops_saved_total"
	// MetricCacheSettings is a gauge of 1 labelled with the active K_p, K_r, transfer percent and
	// the settings generation, so a scrape tells which settings produced which observations.
	MetricCacheSettings = "dllm_cache_settings_info"

	// MetricShadowRequests counts requests also computed without the cache.
	MetricShadowRequests = "dllm_shadow_requests_total"
	// MetricShadowTokensCompared counts response tokens compared between cached and uncached
	// results of shadow requests.
	MetricShadowTokensCompared = "dllm_shadow_tokens_compared_total"
	// MetricShadowTokensAgreed counts compared tokens that were equal.
	MetricShadowTokensAgreed = "dllm_shadow_tokens_agreed_total"
)
