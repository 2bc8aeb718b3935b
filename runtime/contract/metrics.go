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
	// MetricPromptTokens counts the prompt tokens of finished requests: with the request count,
	// the mean prompt length, which says when the workload shifted.
	MetricPromptTokens = "dllm_prompt_tokens_total"
	// MetricTokensPerSecond is a histogram of each request's response tokens over its
	// end-to-end latency.
	MetricTokensPerSecond = "dllm_request_tokens_per_second"
	// MetricQueueDepth is a gauge of requests waiting for a batch slot (the Gateway API
	// Inference Extension's TotalQueuedRequests).
	MetricQueueDepth = "dllm_queue_depth"
	// MetricInFlight is a gauge of requests being denoised (the Inference Extension's
	// TotalRunningRequests).
	MetricInFlight = "dllm_requests_in_flight"
	// MetricSlotUsage is a gauge from 0 to 1: requests being denoised over the most the engine
	// denoises at once. Each slot holds at most one request's feature cache, so it is the
	// share of the feature-cache memory bound in use: the Inference Extension's
	// KVCacheUtilization for a diffusion model.
	MetricSlotUsage = "dllm_slot_usage_ratio"
	// MetricPendingSteps is a gauge of the denoising row-steps admitted requests still need
	// (all of a queued request's steps, what a running one has left).
	MetricPendingSteps = "dllm_pending_steps"
	// MetricDemandRate is a gauge of the row-steps per second requests asked for over the last
	// 30 s (exponentially weighted), refused requests included.
	MetricDemandRate = "dllm_demand_steps_per_second"
	// MetricCapacityRate is a gauge of the row-steps per second the engine delivered while busy
	// over the same window, under the active cache settings and the batch sizes traffic forms.
	MetricCapacityRate = "dllm_capacity_steps_per_second"
	// MetricSaturation is a gauge of demand over capacity (MetricDemandRate over
	// MetricCapacityRate): below 1 the pod keeps up, above 1 its queue grows and it refuses
	// requests. It is the signal to autoscale on: a faster cache setting lowers it at once.
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
	// MetricShadowTokenAgreement is a histogram of each shadow request's share of equal
	// response tokens.
	MetricShadowTokenAgreement = "dllm_shadow_token_agreement_ratio"
	// MetricShadowTop1Compared counts masked positions whose top-1 prediction, at a few
	// sampled forward passes of a shadow request, was compared with the exact path's on the
	// same canvas.
	MetricShadowTop1Compared = "dllm_shadow_top1_compared_total"
	// MetricShadowTop1Agreed counts compared top-1 predictions that were equal.
	MetricShadowTop1Agreed = "dllm_shadow_top1_agreed_total"
	// MetricShadowTop1Agreement is a histogram of each shadow request's share of equal top-1
	// predictions.
	MetricShadowTop1Agreement = "dllm_shadow_top1_agreement_ratio"
)

// ShadowGenerationsKept is how many of the latest cache-settings generations the shadow
// metrics keep series for: older generations' series are deleted, so the label stays bounded
// however often settings change.
const ShadowGenerationsKept = 8
