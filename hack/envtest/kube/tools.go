//go:build tools

// Package kube pins the Kubernetes commands that hack/envtest-assets.sh builds from the Go module
// proxy: kube-apiserver for the integration tests, kube-controller-manager and kube-scheduler for
// the local cluster (test/cluster), kubectl for the demo.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
