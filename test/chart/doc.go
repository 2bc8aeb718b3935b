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

// Package chart tests the Helm chart charts/dllm-operator with a pinned Helm built from the Go
// module proxy (hack/helm/go.mod): `helm lint`, golden files of `helm template` for the value
// sets a user would choose, the values schema's rejections, and that the chart and the
// kustomize tree rendered from it (config/default, make manifests) agree. The chart's install
// into a live cluster is test/e2e's TestHelmInstallAndNoDrift.
package chart
