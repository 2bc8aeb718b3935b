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
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"dllm.dev/dllm-operator/test/processnode"
)

// The test binary doubles as the pods' program. With EXIT_CODE set it prints a line, writes
// "initialized" to WRITE_FILE if that is set, and exits with that code. With SERVE_ADDR set it serves HTTP there (an address without a host binds
// LISTEN_HOST, which the node sets to the pod's address) instead of running tests: GET /
// answers with the pod's name and the config file's content and logs the request, GET /healthz
// answers 200 and every other path 404. It prints its pid first.
func TestMain(m *testing.M) {
	if code := os.Getenv("EXIT_CODE"); code != "" {
		fmt.Println("exiting with", code)
		if path := os.Getenv("WRITE_FILE"); path != "" {
			if err := os.WriteFile(path, []byte("initialized"), 0o644); err != nil {
				fmt.Println(err)
				os.Exit(1)
			}
		}
		n, _ := strconv.Atoi(code)
		os.Exit(n)
	}
	if addr := os.Getenv("SERVE_ADDR"); addr != "" {
		if strings.HasPrefix(addr, ":") {
			addr = os.Getenv("LISTEN_HOST") + addr
		}
		fmt.Printf("pid %d\nlistening on %s\n", os.Getpid(), addr)
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
		mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
			fmt.Printf("GET /?%s from %s\n", r.URL.RawQuery, r.RemoteAddr)
			cfg, _ := os.ReadFile(os.Getenv("CONFIG_FILE"))
			_, _ = fmt.Fprintf(w, "%s %s", os.Getenv("HOSTNAME"), cfg)
		})
		fmt.Fprintln(os.Stderr, http.ListenAndServe(addr, mux))
		os.Exit(1)
	}
	// envtest logs through controller-runtime's logger; the tests read what they need from
	// the API instead.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

// TestProcessNodeRunsDeployment runs a Deployment on the process node: its Pod runs as a local
// process on its own loopback address with its ConfigMap volume and downward-API environment,
// passes its readiness probe, and is listed in the Service's EndpointSlice; a Pod whose
// readiness probe fails stays out of the ready endpoints; one that fails its liveness probe is
// restarted; container logs are served through the API server (kubectl logs, with --tail and
// --follow); deleting the Deployment leaves no process behind.
func TestProcessNodeRunsDeployment(t *testing.T) {
	ctx, c := startCluster(t, 2*time.Minute)
	cs := kubernetes.NewForConfigOrDie(c.Config)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	kubeletTLS, err := c.KubeletTLS("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	n, err := processnode.Start(ctx, cs, processnode.Config{Name: "process-node", Root: t.TempDir(),
		Images: map[string]string{"registry.example/echo": self}, GPUs: 4, GPUType: "NVIDIA-H100-80GB-HBM3",
		AddressEnv: []string{"LISTEN_HOST"}, TLS: kubeletTLS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "echo-config", Namespace: "default"},
		Data: map[string]string{"greeting": "hello"}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// create makes a Deployment and its Service. The echo Deployment binds the address the
	// downward API gives it; the others bind the one the node's AddressEnv sets.
	create := func(name, readyPath string, liveness *corev1.Probe) {
		labels := map[string]string{"app": name}
		serveAddr := ":8080"
		if name == "echo" {
			serveAddr = "$(POD_IP):8080"
		}
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						TerminationGracePeriodSeconds: ptr.To[int64](5),
						Containers: []corev1.Container{{
							Name: "echo", Image: "registry.example/echo:v1",
							Env: []corev1.EnvVar{
								{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
								{Name: "SERVE_ADDR", Value: serveAddr},
								{Name: "CONFIG_FILE", Value: "/etc/echo/greeting"},
							},
							Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
							VolumeMounts:   []corev1.VolumeMount{{Name: "config", MountPath: "/etc/echo"}},
							ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: readyPath, Port: intstr.FromString("http")}}},
							LivenessProbe:  liveness,
							Resources:      corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}},
						}},
						Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
							ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "echo-config"}}}}},
					},
				},
			},
		}
		if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}}
		if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create("echo", "/healthz", nil)

	// The Deployment becomes Available: the Pod runs and passes its readiness probe.
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "echo", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == 1, nil
	})
	if err != nil {
		t.Fatalf("Deployment echo did not become Available: %v", err)
	}
	pod := onlyPod(ctx, t, cs, "app=echo")
	if pod.Spec.NodeName != "process-node" || !strings.HasPrefix(pod.Status.PodIP, "10.88.0.") {
		t.Fatalf("Pod %s on node %q at %q, want the process node and an address of its pod range", pod.Name, pod.Spec.NodeName, pod.Status.PodIP)
	}
	readyAddresses := func(service string) []string {
		slices, err := cs.DiscoveryV1().EndpointSlices("default").List(ctx,
			metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
		if err != nil {
			return nil
		}
		var out []string
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					out = append(out, e.Addresses...)
				}
			}
		}
		return out
	}
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(context.Context) (bool, error) {
		a := readyAddresses("echo")
		return len(a) == 1 && a[0] == pod.Status.PodIP, nil
	})
	if err != nil {
		slices, _ := cs.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{})
		p, _ := cs.CoreV1().Pods("default").Get(context.Background(), pod.Name, metav1.GetOptions{})
		t.Fatalf("the Service's EndpointSlice does not list %s as ready: %v (has %v)\nslices %+v\npod status %+v", pod.Status.PodIP, err, readyAddresses("echo"), slices.Items, p.Status)
	}
	// A request through the Pod's address reaches the process, with its config file.
	resp, err := http.Get("http://" + pod.Status.PodIP + ":8080/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if want := pod.Name + " hello"; string(body) != want {
		t.Errorf("GET / = %q, want %q", body, want)
	}
	pid := serverPid(ctx, t, cs, pod)

	// A changed ConfigMap reaches the running process's volume, as the kubelet syncs it.
	cm.Data["greeting"] = "hello again"
	if _, err := cs.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get("http://" + pod.Status.PodIP + ":8080/")
		if err != nil {
			return false, nil
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		got = string(body)
		return got == pod.Name+" hello again", nil
	})
	if err != nil {
		t.Errorf("after the ConfigMap update, GET / = %q, want %q", got, pod.Name+" hello again")
	}

	// Logs through the API server, which reaches the node's kubelet API over mutual TLS.
	logs := func(opts *corev1.PodLogOptions) string {
		t.Helper()
		data, err := cs.CoreV1().Pods("default").GetLogs(pod.Name, opts).DoRaw(ctx)
		if err != nil {
			t.Fatalf("logs %+v: %v", opts, err)
		}
		return string(data)
	}
	if got, want := logs(&corev1.PodLogOptions{TailLines: ptr.To[int64](1)}), "GET /? from"; !strings.HasPrefix(got, want) || strings.Count(got, "\n") != 1 {
		t.Errorf("logs --tail 1 = %q, want the one line %q...", got, want)
	}
	stream, err := cs.CoreV1().Pods("default").GetLogs(pod.Name, &corev1.PodLogOptions{Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	followed := make(chan string, 16)
	go func() {
		defer func() { _ = stream.Close() }()
		sc := bufio.NewScanner(stream)
		for sc.Scan() {
			select {
			case followed <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		close(followed)
	}()
	if line := <-followed; !strings.HasPrefix(line, "pid ") {
		t.Errorf("logs --follow starts with %q, want the pid line", line)
	}
	if _, err := http.Get("http://" + pod.Status.PodIP + ":8080/?followed"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case line, ok := <-followed:
			if !ok {
				t.Fatal("logs --follow ended while the pod runs")
			}
			seen = strings.HasPrefix(line, "GET /?followed from")
		case <-deadline:
			t.Fatal("logs --follow did not show a line written after it started")
		}
	}

	// A Pod whose readiness probe fails runs but stays out of the ready endpoints.
	create("unready", "/missing", nil)
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=unready"})
		return err == nil && len(pods.Items) == 1 && pods.Items[0].Status.Phase == corev1.PodRunning, nil
	})
	if err != nil {
		t.Fatalf("the unready Pod never ran: %v", err)
	}
	time.Sleep(3 * time.Second) // several probe periods
	if a := readyAddresses("unready"); len(a) != 0 {
		t.Errorf("a Pod failing its readiness probe is a ready endpoint: %v", a)
	}
	unready := onlyPod(ctx, t, cs, "app=unready")
	if podReady(unready) {
		t.Errorf("Pod %s is Ready although its readiness probe fails", unready.Name)
	}
	// It serves the same port as echo, on the address the node told it to bind.
	if resp, err := http.Get("http://" + unready.Status.PodIP + ":8080/healthz"); err != nil {
		t.Errorf("the Pod given its address by AddressEnv does not serve there: %v", err)
	} else {
		_ = resp.Body.Close()
	}

	// A container that fails its liveness probe is killed and started again.
	create("unlive", "/healthz", &corev1.Probe{PeriodSeconds: 1, InitialDelaySeconds: 1, FailureThreshold: 2,
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/missing", Port: intstr.FromString("http")}}})
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=unlive"})
		return err == nil && len(pods.Items) == 1 && len(pods.Items[0].Status.ContainerStatuses) == 1 &&
			pods.Items[0].Status.ContainerStatuses[0].RestartCount >= 2, nil
	})
	if err != nil {
		t.Fatalf("a container failing its liveness probe was not restarted twice: %v", err)
	}

	// Deleting the Deployment ends its process.
	if err := cs.AppsV1().Deployments("default").Delete(ctx, "echo",
		metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		return err == nil && len(pods.Items) == 0, nil
	})
	if err != nil {
		t.Fatalf("the Deployment's Pod was not deleted: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d of the deleted Pod is still alive (kill 0: %v)", pid, err)
	}
}

// TestProcessNodeRestartsAndInitContainers runs Pods whose processes exit by themselves: each
// restart policy gives the phase and restarts the kubelet gives, and init containers run to
// success, in order, before the containers start (sharing their volumes), or fail the Pod.
func TestProcessNodeRestartsAndInitContainers(t *testing.T) {
	ctx, c := startCluster(t, 2*time.Minute)
	cs := kubernetes.NewForConfigOrDie(c.Config)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	n, err := processnode.Start(ctx, cs, processnode.Config{Name: "process-node", Root: t.TempDir(),
		Images: map[string]string{"registry.example/exit": self}, AddressEnv: []string{"LISTEN_HOST"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	exiting := func(name, code string, env ...corev1.EnvVar) corev1.Container {
		return corev1.Container{Name: name, Image: "registry.example/exit",
			Env:          append([]corev1.EnvVar{{Name: "EXIT_CODE", Value: code}}, env...),
			VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: "/work"}}}
	}
	serving := corev1.Container{Name: "main", Image: "registry.example/exit",
		Env:            []corev1.EnvVar{{Name: "SERVE_ADDR", Value: ":8080"}, {Name: "CONFIG_FILE", Value: "/work/greeting"}},
		VolumeMounts:   []corev1.VolumeMount{{Name: "work", MountPath: "/work"}},
		ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}}}
	written := corev1.EnvVar{Name: "WRITE_FILE", Value: "/work/greeting"}
	type status = corev1.PodStatus
	cases := []struct {
		name   string
		policy corev1.RestartPolicy
		inits  []corev1.Container
		main   corev1.Container
		// done reports whether the Pod reached the expected state, described by want.
		done func(status, corev1.ContainerStatus) bool
		want string
	}{
		{"never-fails", corev1.RestartPolicyNever, nil, exiting("main", "3"), func(p status, s corev1.ContainerStatus) bool {
			return p.Phase == corev1.PodFailed && s.State.Terminated != nil && s.State.Terminated.ExitCode == 3 && s.RestartCount == 0
		}, "Failed, exit code 3, no restart"},
		{"never-succeeds", corev1.RestartPolicyNever, nil, exiting("main", "0"), func(p status, s corev1.ContainerStatus) bool {
			return p.Phase == corev1.PodSucceeded && s.State.Terminated != nil && s.State.Terminated.ExitCode == 0
		}, "Succeeded"},
		{"onfailure-succeeds", corev1.RestartPolicyOnFailure, nil, exiting("main", "0"), func(p status, s corev1.ContainerStatus) bool {
			return p.Phase == corev1.PodSucceeded && s.RestartCount == 0
		}, "Succeeded, no restart"},
		{"onfailure-fails", corev1.RestartPolicyOnFailure, nil, exiting("main", "3"), func(p status, s corev1.ContainerStatus) bool {
			return p.Phase != corev1.PodFailed && s.RestartCount >= 1 && s.LastTerminationState.Terminated != nil &&
				s.LastTerminationState.Terminated.ExitCode == 3
		}, "restarted, not Failed"},
		{"always-succeeds", corev1.RestartPolicyAlways, nil, exiting("main", "0"), func(p status, s corev1.ContainerStatus) bool {
			return p.Phase == corev1.PodRunning && s.RestartCount >= 1
		}, "restarted, Running"},
		{"init-succeeds", corev1.RestartPolicyAlways, []corev1.Container{exiting("first", "0"), exiting("second", "0", written)}, serving,
			func(p status, s corev1.ContainerStatus) bool {
				return p.Phase == corev1.PodRunning && s.Ready && len(p.InitContainerStatuses) == 2 &&
					p.InitContainerStatuses[1].State.Terminated != nil && p.InitContainerStatuses[1].State.Terminated.ExitCode == 0
			}, "both init containers done, then Running and Ready"},
		{"init-fails-never", corev1.RestartPolicyNever, []corev1.Container{exiting("first", "3")}, serving,
			func(p status, s corev1.ContainerStatus) bool {
				return p.Phase == corev1.PodFailed && s.State.Waiting != nil && s.RestartCount == 0
			}, "Failed, the container never started"},
		{"init-fails-retried", corev1.RestartPolicyAlways, []corev1.Container{exiting("first", "3")}, serving,
			func(p status, s corev1.ContainerStatus) bool {
				return p.Phase == corev1.PodPending && len(p.InitContainerStatuses) == 1 && p.InitContainerStatuses[0].RestartCount >= 1 &&
					s.State.Waiting != nil
			}, "Pending, the init container restarted, the container not started"},
	}
	for _, tc := range cases {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: "default"},
			Spec: corev1.PodSpec{RestartPolicy: tc.policy, InitContainers: tc.inits, Containers: []corev1.Container{tc.main},
				Volumes: []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range cases {
		var last corev1.Pod
		err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, tc.name, metav1.GetOptions{})
			if err != nil || len(p.Status.ContainerStatuses) != 1 {
				return false, nil
			}
			last = *p
			return tc.done(p.Status, p.Status.ContainerStatuses[0]), nil
		})
		if err != nil {
			t.Errorf("Pod %s (restartPolicy %s): want %s; last status %+v", tc.name, tc.policy, tc.want, last.Status)
		}
	}
	// The container saw the file the second init container wrote into their shared volume.
	pod, err := cs.CoreV1().Pods("default").Get(ctx, "init-succeeds", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + pod.Status.PodIP + ":8080/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if want := "init-succeeds initialized"; string(body) != want {
		t.Errorf("GET / = %q, want %q", body, want)
	}
	// An init container's logs are reachable as any container's.
	if r, err := n.Provider.GetContainerLogs(ctx, "default", "init-succeeds", "second", api.ContainerLogOpts{}); err != nil {
		t.Errorf("logs of init container second: %v", err)
	} else {
		data, _ := io.ReadAll(r)
		_ = r.Close()
		if string(data) != "exiting with 0\n" {
			t.Errorf("logs of init container second = %q", data)
		}
	}
}

// onlyPod returns the single Pod matching selector.
func onlyPod(ctx context.Context, t *testing.T, cs kubernetes.Interface, selector string) corev1.Pod {
	t.Helper()
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods %s: %v, %d found", selector, err, len(pods.Items))
	}
	return pods.Items[0]
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// serverPid reads the pid the Pod's process printed first, from its log through the API server.
func serverPid(ctx context.Context, t *testing.T, cs kubernetes.Interface, pod corev1.Pod) int {
	t.Helper()
	data, err := cs.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of %s: %v", pod.Name, err)
	}
	var pid int
	if _, err := fmt.Sscanf(string(data), "pid %d", &pid); err != nil || pid <= 0 {
		t.Fatalf("container log %q has no pid: %v", data, err)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("process %s of the running Pod: %v", strconv.Itoa(pid), err)
	}
	return pid
}
