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

// Package controllers holds the DLLMService reconciler and its pure status computation.
//
// The reconciler renders the desired children with controllers/render, applies them with
// server-side apply under one field owner, observes the runtime Deployment, and applies a status
// computed by computeStatus from what it observed. It never writes a DLLMService's spec or
// metadata, so GitOps tools see no drift.
//
// The cache tuner of services in Autotune mode lives here too (dllmservice_autotune.go, over the
// pure policy of controllers/autotune), and so do the operator's own Prometheus metrics of its
// decisions and phases (metrics.go), served on the manager's metrics endpoint.
package controllers
