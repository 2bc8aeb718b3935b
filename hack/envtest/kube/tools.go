//go:build tools

// Package kube pins the Kubernetes control-plane commands that hack/envtest-assets.sh builds
// from the Go module proxy for the integration tests.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
