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

// Package observe owns what the operator learns from its runtime pods: it finds a
// DLLMService's ready runtime endpoints in its Service's EndpointSlices, scrapes each one's
// /metrics (the Prometheus text format, parsed by the Prometheus libraries), reduces a scrape to
// a Sample, and turns two consecutive Samples of a pod into a window of what happened in
// between: request latency (mean and p95 from the histogram), throughput, forward passes per
// second, prompt and response lengths, shadow agreement with its sample count and spread, and
// saturation, attributed to the cache-settings generation that was active throughout. Windows
// of the pods running the same settings merge into one Observation, the tuner's input. A pod
// that restarted, changed settings mid-window or failed its scrape is left out, with the reason.
package observe
