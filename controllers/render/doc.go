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

// Package render turns a DLLMService into the objects that run it: the runtime ConfigMap, the
// Deployment of runtime Pods, the Service in front of them and, with autoscaling, a
// HorizontalPodAutoscaler. It also owns the defaults of every optional spec field.
//
// Everything here is pure: no client, no context, no clock. Each builder returns a client-go
// apply configuration that the reconciler applies with server-side apply. The output is
// golden-file tested (testdata/, regenerate with `go test ./controllers/render -update`).
//
// It may import api/, runtime/contract, k8s.io/api, k8s.io/apimachinery and client-go's
// applyconfigurations; never a client.
package render
