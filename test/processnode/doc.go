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

// Package processnode owns the process node: a virtual-kubelet provider that runs each pod's
// containers as local processes, so that the local cluster (package cluster) has a node
// without a container engine. A container's image maps to a local binary; its command, args
// and environment (ConfigMap, Secret and downward-API values, $(VAR) expansion) are resolved as
// the kubelet resolves them; emptyDir, ConfigMap and Secret volumes are directories under the
// pod's own directory, with mount paths in args and env rewritten to them, and configMap and
// secret volumes follow their sources' changes within a second or two. Each pod gets its
// own address from a range routed to the loopback device (Config.PodCIDR), so every pod keeps
// its declared container port and Services list the pods' addresses; readiness
// and liveness probes run and set the pod's conditions; init containers run in order, each to
// success, before the containers start; containers restart by the pod's restart policy; deleting a pod or stopping the node kills each container's process group,
// so nothing outlives them. Config.AddressEnv tells each program its pod's address, since pods
// share the machine's network, and with Config.TLS the node serves the kubelet API, so that
// `kubectl logs` (with --tail, --limit-bytes and --follow) reaches container logs through the
// API server.
package processnode
