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

// Package cluster owns the local Kubernetes control plane that tests and the demo run on: etcd
// and kube-apiserver (through envtest) plus kube-controller-manager and kube-scheduler as child
// processes, all built from the Go module proxy by `hack/envtest-assets.sh cluster`. It starts
// and stops the whole control plane and writes an admin kubeconfig for kubectl and helm. Above
// the node everything is the real Kubernetes code path: the Deployment, ReplicaSet and
// EndpointSlice controllers run, the garbage collector deletes owned objects and the scheduler
// binds Pods to Nodes.
//
// Its tests carry the `integration` build tag (`make test-integration`).
package cluster
