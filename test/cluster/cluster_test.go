//go:build integration

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

package cluster_test

import (
	"context"
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"dllm.dev/dllm-operator/test/cluster"
)

// TestControlPlaneRunsControllersAndScheduler starts the whole control plane and checks that the
// components above the node do their part: a Deployment gets a ReplicaSet and a Pod, the
// scheduler binds the Pod to the only Node that fits its GPU request, and a Service gets an
// EndpointSlice. No kubelet runs here, so the Node is registered by the test and the Pod never
// starts.
func TestControlPlaneRunsControllersAndScheduler(t *testing.T) {
	ctx, c := startCluster(t, 3*time.Minute)
	if _, err := os.Stat(c.Kubeconfig); err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	cs := kubernetes.NewForConfigOrDie(c.Config)

	// Two nodes; only one has a GPU, so binding to it is the scheduler's choice.
	for _, n := range []struct {
		name string
		gpus int64
	}{{"cpu-node", 0}, {"gpu-node", 1}} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name}}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("8"),
			corev1.ResourceMemory: resource.MustParse("32Gi"),
			corev1.ResourcePods:   resource.MustParse("110"),
			"nvidia.com/gpu":      *resource.NewQuantity(n.gpus, resource.DecimalSI),
		}
		node.Status = corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
				LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(), Reason: "Test"}},
		}
		if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	labels := map[string]string{"app": "runtime"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "runtime", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "runtime", Image: "dllm-runtime:test",
					Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}},
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}},
				}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "runtime", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: labels,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var pod corev1.Pod
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=runtime"})
		if err != nil || len(pods.Items) == 0 || pods.Items[0].Spec.NodeName == "" {
			return false, nil
		}
		pod = pods.Items[0]
		return true, nil
	})
	if err != nil {
		t.Fatalf("no Pod of the Deployment was created and bound: %v", err)
	}
	if pod.Spec.NodeName != "gpu-node" {
		t.Errorf("Pod %s bound to %q, want gpu-node (the only node with a GPU)", pod.Name, pod.Spec.NodeName)
	}
	if len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].Kind != "ReplicaSet" {
		t.Errorf("Pod %s owners %v, want its ReplicaSet", pod.Name, pod.OwnerReferences)
	}

	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		slices, err := cs.DiscoveryV1().EndpointSlices("default").List(ctx,
			metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=runtime"})
		return err == nil && len(slices.Items) > 0, nil
	})
	if err != nil {
		t.Fatalf("the Service got no EndpointSlice: %v", err)
	}
}

// startCluster starts the control plane from KUBEBUILDER_ASSETS for one test, stops it when
// the test ends, and returns a context that ends after timeout. DLLM_TEST_LOG=1 shows the
// components' output in the test log.
func startCluster(t *testing.T, timeout time.Duration) (context.Context, *cluster.Cluster) {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test-integration`")
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	opts := cluster.Options{Assets: assets}
	if os.Getenv("DLLM_TEST_LOG") != "" {
		opts.Logs = &testLog{t}
	}
	c, err := cluster.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return ctx, c
}

// testLog writes the components' output to the test log.
type testLog struct{ t *testing.T }

func (l *testLog) Write(p []byte) (int, error) {
	l.t.Log(string(p))
	return len(p), nil
}
