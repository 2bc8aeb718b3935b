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

// Package engine runs generation requests on one loaded model, as the serving runtime's core:
// admission through a bounded queue (a full queue refuses at once, so memory stays bounded),
// batching of compatible requests into one sampler run (left padding with key masks, a seed
// per row, so a request's tokens do not depend on its batch), per-request cancellation and
// deadlines through the request context, and a dLLM-Cache session per batch when the request
// asks for the cache.
//
// Requests are token ids; the engine knows neither HTTP nor tokenizers (the server turns API
// calls into requests), and it never imports Kubernetes.
package engine
