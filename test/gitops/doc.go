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

// Package gitops holds the tests of config/gitops: the Argo CD health check of DLLMServices
// (argocd/health.lua), run on sample objects the way Argo CD runs it (gopher-lua, with only the
// base, package and table libraries, the object as the global obj), the argocd-cm patch that
// must carry the same script byte for byte, and the Flux example.
//
// The sample objects in testdata/ are DLLMServices as the operator leaves them; each must decode
// strictly into api/v1alpha1's DLLMService, so they follow the API. The tests need no cluster
// and run with `go test ./test/gitops/`.
package gitops
