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

// Package observability holds the tests of config/observability: the Grafana dashboard and the
// PrometheusRule alerts. They read the files as a user would import them and check that every
// query names only metrics that exist (the runtime's, from runtime/contract/metrics.go; the
// operator's, from controllers/metrics.go; kube-state-metrics'), uses histograms through their
// series, selects on the dashboard's variables, and that every alert is complete.
//
// The tests need no cluster, network or Prometheus, and run with `go test ./test/observability/`.
// PromQL is checked without Prometheus's parser (github.com/prometheus/prometheus is not a
// dependency of the module): metric names are extracted with regular expressions once strings,
// label matchers, ranges and grouping clauses are removed.
package observability
