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

// Package contract is the one package the operator and the runtime both import: the runtime's
// configuration file schema and its validation, the container paths and ports, the HTTP paths of
// the health, API and admin endpoints, and the names of the runtime's metrics.
//
// It imports only the standard library, so the runtime never depends on Kubernetes and the
// operator never depends on the runtime's internals. Changing anything here changes both sides at
// once; keep it backward compatible within an API version.
package contract

// Paths and ports of a runtime container.
const (
	// DefaultPort is the runtime's HTTP port when the config does not set one.
	DefaultPort = 8000
	// PortName is the name of the runtime's HTTP container and Service port.
	PortName = "http"

	// HealthPath answers 200 while the process is alive (liveness).
	HealthPath = "/healthz"
	// ReadyPath answers 200 once the weights are loaded and a warm-up forward pass ran
	// (readiness).
	ReadyPath = "/readyz"
	// MetricsPath serves Prometheus metrics in the text exposition format.
	MetricsPath = "/metrics"
	// APIPath is the base path of the OpenAI-compatible API.
	APIPath = "/v1"
	// AdminCachePath accepts live cache-setting updates (bearer-token authenticated).
	AdminCachePath = "/admin/v1/cache"

	// AdminTokenPath is where the bearer token of the admin endpoints is mounted (from a
	// Secret the operator creates); without the file the admin endpoints are disabled.
	AdminTokenPath = "/etc/dllm-admin/token"

	// ConfigDir is where the runtime configuration is mounted in the container.
	ConfigDir = "/etc/dllm"
	// ConfigFileName is the configuration file's name inside ConfigDir and the ConfigMap key.
	ConfigFileName = "config.json"
	// ConfigPath is the configuration file's path in the container.
	ConfigPath = ConfigDir + "/" + ConfigFileName
	// ModelsDir is where model volumes are mounted in the container.
	ModelsDir = "/models"

	// ServeCommand is the runtime subcommand that runs the server.
	ServeCommand = "serve"
	// ConfigFlag is the flag that names the configuration file.
	ConfigFlag = "--config"
	// AdminTokenFlag names the file holding the admin endpoints' bearer token (default
	// AdminTokenPath).
	AdminTokenFlag = "--admin-token-file"

	// PullCommand is the runtime subcommand that fetches a model source into a folder, or
	// checks one in place: PullCommand SOURCE DirFlag DIR.
	PullCommand = "pull"
	// DirFlag names the folder PullCommand fills (hf://) or where the source is mounted
	// (pvc://, oci://).
	DirFlag = "--dir"
	// TokenFileFlag names a file holding the Hugging Face token of PullCommand.
	TokenFileFlag = "--token-file"
	// HubTokenEnv is the environment variable PullCommand reads the Hugging Face token from
	// when no token file is given; HubEndpointEnv overrides the Hub's address (mirrors).
	HubTokenEnv    = "HF_TOKEN"
	HubEndpointEnv = "HF_ENDPOINT"

	// ListenHostEnv, when set, is the address ServeCommand binds instead of every interface.
	// The operator never sets it: in a pod every interface is the pod's own. It is for hosts
	// where pods share one network, such as the process node of the local cluster, which sets
	// it to each pod's address so two replicas can both listen on the declared port.
	ListenHostEnv = "DLLM_LISTEN_HOST"
)
