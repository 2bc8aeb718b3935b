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

// Package autotune owns the online tuning policy for dLLM-Cache settings: given the spec's
// bounds, quality floor and latency target, and windows of observations made under the active
// settings (latency, shadow agreement with its sample count, prompt and response lengths), it
// decides the next settings and says why.
//
// The policy starts from the spec's settings and explores neighbours that should be faster
// (a longer response or prompt refresh interval, a smaller transfer ratio) one at a time. A
// candidate is judged only once enough shadow samples have been seen: it is accepted when the
// lower confidence bound of its agreement stays above the floor and it is faster than the best
// settings by a margin (hysteresis); it is rejected otherwise, and settings at least as
// aggressive as an infeasible one are never tried in the same exploration. Whenever the upper
// confidence bound of agreement falls below the floor, even within one window, it reverts at
// once: from a candidate to the best settings, from the best settings to the ones accepted
// before them. Exploration ends when no untried neighbour is left, the exploration budget is
// spent, or the latency target is met; it starts again when the workload's prompt or response
// lengths shift.
//
// The package is pure: no Kubernetes, no clock, no randomness. Its State is what the operator
// keeps in a DLLMService's status between decisions.
package autotune
