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

// Package integration runs the DLLMService controller against a real kube-apiserver and etcd
// (envtest), built from the Go module proxy by hack/envtest-assets.sh. Its tests carry the
// `integration` build tag; run them with `make test-integration`, which builds the binaries and
// sets KUBEBUILDER_ASSETS. Without KUBEBUILDER_ASSETS the suite fails rather than skip.
//
// There is no kubelet, Deployment controller or garbage collector here: tests play their part by
// writing Deployment status through its status subresource.
package integration
