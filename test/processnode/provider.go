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

package processnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Provider runs pods as local processes: the virtual-kubelet provider of the process node.
type Provider struct {
	cfg Config
	src sources

	mu     sync.Mutex
	pods   map[string]*podRun // by namespace/name
	ips    map[string]bool    // addresses in use
	notify func(*corev1.Pod)
	queue  []*corev1.Pod // status changes not yet handed to notify, oldest first
	wake   chan struct{} // a change was queued
	prefix netip.Prefix  // pod addresses
}

// deliver hands queued status changes to the pod controller in the order they happened, off
// the callers' goroutines (the callback may block), until ctx ends.
func (p *Provider) deliver(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		for {
			p.mu.Lock()
			if len(p.queue) == 0 || p.notify == nil {
				p.queue = p.queue[:0]
				p.mu.Unlock()
				break
			}
			pod, notify := p.queue[0], p.notify
			p.queue = p.queue[1:]
			p.mu.Unlock()
			notify(pod)
		}
	}
}

// volumeSyncPeriod is how often configMap and secret volumes are brought up to date. The
// kubelet takes up to a minute or two; sooner costs little here and keeps tests short.
const volumeSyncPeriod = time.Second

// syncVolumes refreshes every pod's configMap and secret volumes until ctx ends. A source that
// cannot be read (deleted, say) leaves the files as they were, as the kubelet does.
func (p *Provider) syncVolumes(ctx context.Context) {
	tick := time.NewTicker(volumeSyncPeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		p.mu.Lock()
		runs := slices.Collect(maps.Values(p.pods))
		p.mu.Unlock()
		for _, run := range runs {
			// Under the lock, so that DeletePod (which removes the directory under it) cannot
			// interleave and leave recreated files behind.
			p.mu.Lock()
			select {
			case <-run.stop:
			default:
				_ = refresh(run.pod, run.dir, p.src)
			}
			p.mu.Unlock()
		}
	}
}

// podRun is one pod on the node.
type podRun struct {
	pod        *corev1.Pod // spec as created, status as this node reports it
	dir        string
	inits      []*containerRun // init containers, run in order before containers
	containers []*containerRun
	// initialized: every init container has succeeded and the containers have started.
	initialized bool
	stop        chan struct{} // closed when the pod is deleted
	deleted     bool          // every container has ended for good: the phase is terminal
	wg          sync.WaitGroup
}

// containerRun is one container's process and what the node reports of it.
type containerRun struct {
	spec    corev1.Container
	init    bool // an init container: runs to completion, no probes
	binary  string
	args    []string
	env     []string
	workDir string // the working directory, mount paths rewritten; empty: the pod's directory
	logPath string
	cmd     *exec.Cmd // the running process, nil between runs
	status  corev1.ContainerStatus
}

func key(namespace, name string) string { return namespace + "/" + name }

// CreatePod assigns the pod an address and a directory, materialises its volumes and starts a
// supervisor per container. A pod that cannot start (an image without a binary, a missing
// ConfigMap) is reported Pending with the reason in its container status, as a kubelet would.
func (p *Provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := key(pod.Namespace, pod.Name)
	if _, ok := p.pods[k]; ok {
		return nil
	}
	ip, err := p.allocateIP()
	if err != nil {
		return err
	}
	run := &podRun{pod: pod.DeepCopy(), stop: make(chan struct{})}
	run.dir = filepath.Join(p.cfg.Root, pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
	now := metav1.Now()
	run.pod.Status = corev1.PodStatus{Phase: corev1.PodPending, HostIP: p.cfg.HostIP, PodIP: ip,
		HostIPs: []corev1.HostIP{{IP: p.cfg.HostIP}}, PodIPs: []corev1.PodIP{{IP: ip}}, StartTime: &now}
	p.pods[k] = run
	volumes, err := p.prepare(run)
	newContainer := func(spec corev1.Container, init bool) *containerRun {
		c := &containerRun{spec: spec, init: init}
		waiting := "ContainerCreating"
		if !init && len(run.pod.Spec.InitContainers) > 0 {
			waiting = "PodInitializing"
		}
		c.status = corev1.ContainerStatus{Name: spec.Name, Image: spec.Image, ImageID: spec.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waiting}}}
		if err == nil && init && spec.RestartPolicy != nil {
			err = fmt.Errorf("init container %s is a sidecar (restartPolicy %s), which the process node does not run", spec.Name, *spec.RestartPolicy)
		}
		if err == nil {
			err = p.resolve(run, c, volumes)
		}
		return c
	}
	for _, spec := range run.pod.Spec.InitContainers {
		run.inits = append(run.inits, newContainer(spec, true))
	}
	for _, spec := range run.pod.Spec.Containers {
		run.containers = append(run.containers, newContainer(spec, false))
	}
	if err != nil {
		for _, c := range run.all() {
			c.status.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}
		}
		p.publish(run)
		return nil
	}
	run.wg.Add(1)
	go p.start(run)
	p.publish(run)
	return nil
}

// all returns the pod's init containers and containers.
func (run *podRun) all() []*containerRun {
	return append(append([]*containerRun{}, run.inits...), run.containers...)
}

// start runs the init containers one after another, each to success, then supervises the
// containers. An init container that fails is restarted unless the pod's restart policy is
// Never, which fails the pod.
func (p *Provider) start(run *podRun) {
	defer run.wg.Done()
	for _, c := range run.inits {
		if !p.runInit(run, c) {
			return
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-run.stop:
		return
	default:
	}
	run.initialized = true
	for _, c := range run.containers {
		run.wg.Add(1)
		go p.supervise(run, c)
	}
	p.publish(run)
}

// runInit runs an init container until it succeeds (true), the pod is deleted, or it fails
// under restart policy Never (false).
func (p *Provider) runInit(run *podRun, c *containerRun) bool {
	backoff := time.Second
	for {
		exit, err := p.runOnce(run, c)
		select {
		case <-run.stop:
			return false
		default:
		}
		if err == nil && exit == 0 {
			return true
		}
		if run.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			return false
		}
		if !p.backOff(run, c, backoff) {
			return false
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// backOff waits before a container's restart, reported as CrashLoopBackOff; false if the pod
// was deleted meanwhile.
func (p *Provider) backOff(run *podRun, c *containerRun, d time.Duration) bool {
	p.mu.Lock()
	c.status.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
		Message: fmt.Sprintf("back-off %s restarting container %s", d, c.spec.Name)}}
	p.publish(run)
	p.mu.Unlock()
	select {
	case <-run.stop:
		return false
	case <-time.After(d):
	}
	p.mu.Lock()
	c.status.RestartCount++
	p.mu.Unlock()
	return true
}

// prepare makes the pod's directory and volumes.
func (p *Provider) prepare(run *podRun) (map[string]string, error) {
	if err := os.MkdirAll(filepath.Join(run.dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	return materialize(run.pod, run.dir, p.src)
}

// resolve works out a container's binary, arguments and environment.
func (p *Provider) resolve(run *podRun, c *containerRun, volumes map[string]string) error {
	bin, ok := p.cfg.binaryFor(c.spec.Image)
	if !ok {
		return fmt.Errorf("image %q has no local binary on this node (its image map has %s)", c.spec.Image, p.cfg.imageList())
	}
	env, vars, err := environment(run.pod, &c.spec, p.src)
	if err != nil {
		return err
	}
	ms, err := mounts(&c.spec, volumes)
	if err != nil {
		return err
	}
	for i, e := range env {
		env[i] = rewrite(e, ms)
	}
	// The pod's address under the names the node is configured with, unless the pod sets them:
	// pods share the machine's network, so a program must bind its own address, not all.
	for _, name := range p.cfg.AddressEnv {
		if _, set := vars[name]; !set {
			env = append(env, name+"="+run.pod.Status.PodIP)
		}
	}
	// The process's own settings: no host environment leaks in, HOME is the pod's directory.
	c.env = make([]string, 0, 3+len(env))
	c.env = append(c.env, "PATH="+os.Getenv("PATH"), "HOME="+run.dir, "HOSTNAME="+run.pod.Name)
	c.env = append(c.env, env...)
	// The command replaces the image's entrypoint, the binary; args follow it.
	argv := append(append([]string{}, c.spec.Command...), c.spec.Args...)
	if len(c.spec.Command) > 0 {
		argv = argv[1:]
	}
	for _, a := range argv {
		c.args = append(c.args, rewrite(expand(a, vars), ms))
	}
	c.binary = bin
	c.workDir = rewrite(c.spec.WorkingDir, ms)
	c.logPath = filepath.Join(run.dir, "logs", c.spec.Name+".log")
	return nil
}

// supervise runs a container until the pod is deleted, restarting it by the pod's restart
// policy with a back-off, and probes it while it runs.
func (p *Provider) supervise(run *podRun, c *containerRun) {
	defer run.wg.Done()
	backoff := time.Second
	for {
		exit, err := p.runOnce(run, c)
		select {
		case <-run.stop:
			return
		default:
		}
		restart := false
		switch run.pod.Spec.RestartPolicy {
		case corev1.RestartPolicyNever:
		case corev1.RestartPolicyOnFailure:
			restart = err != nil || exit != 0
		default:
			restart = true
		}
		if !restart || !p.backOff(run, c, backoff) {
			return
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// runOnce starts the container's process and waits for it, probing it meanwhile.
func (p *Provider) runOnce(run *podRun, c *containerRun) (int, error) {
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return -1, err
	}
	defer func() { _ = logf.Close() }()
	cmd := exec.Command(c.binary, c.args...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = c.env, run.dir, logf, logf
	if c.workDir != "" {
		cmd.Dir = c.workDir
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.mu.Lock()
	select {
	case <-run.stop:
		p.mu.Unlock()
		return -1, errors.New("pod deleted")
	default:
	}
	if err := cmd.Start(); err != nil {
		c.status.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "StartError", Message: err.Error()}}
		p.publish(run)
		p.mu.Unlock()
		return -1, err
	}
	c.cmd = cmd
	started := metav1.Now()
	c.status.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}
	c.status.Started = new(true)
	c.status.Ready = !c.init && c.spec.ReadinessProbe == nil
	p.publish(run)
	p.mu.Unlock()

	done := make(chan struct{})
	if !c.init {
		go p.probe(run, c, cmd, done)
	}
	err = cmd.Wait()
	close(done)
	code := cmd.ProcessState.ExitCode()
	p.mu.Lock()
	c.cmd = nil
	c.status.Ready = c.init && code == 0 // a completed init container reports ready
	term := &corev1.ContainerStateTerminated{ExitCode: int32(code), StartedAt: started, FinishedAt: metav1.Now(), Reason: "Completed"}
	if code != 0 {
		term.Reason = "Error"
	}
	c.status.State = corev1.ContainerState{Terminated: term}
	c.status.LastTerminationState = corev1.ContainerState{Terminated: term}
	p.publish(run)
	p.mu.Unlock()
	return code, err
}

// probe runs the container's readiness and liveness probes until done: readiness sets the
// container's Ready; a liveness probe that fails failureThreshold times in a row kills the
// process group, and supervise restarts it.
func (p *Provider) probe(run *podRun, c *containerRun, cmd *exec.Cmd, done <-chan struct{}) {
	type state struct {
		probe            *corev1.Probe
		next             time.Time
		success, failure int32
	}
	start := time.Now()
	probes := make([]*state, 0, 2)
	for _, pr := range []*corev1.Probe{c.spec.ReadinessProbe, c.spec.LivenessProbe} {
		var s *state
		if pr != nil {
			s = &state{probe: pr, next: start.Add(time.Duration(pr.InitialDelaySeconds) * time.Second)}
		}
		probes = append(probes, s)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		for i, s := range probes {
			if s == nil || time.Now().Before(s.next) {
				continue
			}
			s.next = time.Now().Add(time.Duration(max(s.probe.PeriodSeconds, 1)) * time.Second)
			err := probeOnce(context.Background(), s.probe, &c.spec, run.pod.Status.PodIP, c.env, run.dir)
			if err == nil {
				s.success, s.failure = s.success+1, 0
			} else {
				s.success, s.failure = 0, s.failure+1
			}
			p.mu.Lock()
			if i == 0 { // readiness
				ready := c.status.Ready
				if err == nil && s.success >= max(s.probe.SuccessThreshold, 1) {
					ready = true
				}
				if err != nil && s.failure >= max(s.probe.FailureThreshold, 1) {
					ready = false
				}
				if ready != c.status.Ready && c.cmd == cmd {
					c.status.Ready = ready
					p.publish(run)
				}
			} else if err != nil && s.failure >= max(s.probe.FailureThreshold, 1) && c.cmd == cmd {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
			p.mu.Unlock()
		}
	}
}

// publish recomputes the pod's phase and conditions from its containers and tells the pod
// controller. The caller holds p.mu.
func (p *Provider) publish(run *podRun) {
	st := &run.pod.Status
	st.InitContainerStatuses = st.InitContainerStatuses[:0]
	initFailed := false
	for _, c := range run.inits {
		st.InitContainerStatuses = append(st.InitContainerStatuses, *c.status.DeepCopy())
		if t := c.status.State.Terminated; t != nil && t.ExitCode != 0 && run.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			initFailed = true
		}
	}
	st.ContainerStatuses = st.ContainerStatuses[:0]
	running, ready, terminated, failed := 0, 0, 0, 0
	for _, c := range run.containers {
		st.ContainerStatuses = append(st.ContainerStatuses, *c.status.DeepCopy())
		switch {
		case c.status.State.Running != nil:
			running++
		case c.status.State.Terminated != nil:
			terminated++
			if c.status.State.Terminated.ExitCode != 0 {
				failed++
			}
		}
		if c.status.Ready {
			ready++
		}
	}
	n := len(run.containers)
	switch {
	case initFailed:
		st.Phase = corev1.PodFailed
	case !run.initialized && !run.deleted:
		st.Phase = corev1.PodPending
	default:
		st.Phase = phase(run, st.Phase, n, running, terminated, failed)
	}
	allReady := corev1.ConditionFalse
	if n > 0 && ready == n {
		allReady = corev1.ConditionTrue
	}
	initialized := corev1.ConditionFalse
	if run.initialized {
		initialized = corev1.ConditionTrue
	}
	now := metav1.Now()
	st.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: initialized, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: allReady, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: allReady, LastTransitionTime: now},
	}
	if p.notify != nil {
		p.queue = append(p.queue, run.pod.DeepCopy())
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// phase is a pod's phase from its containers' states (of n: running, terminated, and failed
// among the terminated), as the kubelet reports it; was is the phase reported last.
func phase(run *podRun, was corev1.PodPhase, n, running, terminated, failed int) corev1.PodPhase {
	switch {
	case run.deleted && failed > 0:
		// A deleted pod's terminal phase, as the kubelet reports it: Succeeded only if every
		// container exited 0.
		return corev1.PodFailed
	case run.deleted:
		return corev1.PodSucceeded
	case running > 0:
		return corev1.PodRunning
	// Every container has ended and none will run again. The API server refuses to move a pod
	// out of a terminal phase, so a container that restarts must never make its pod Failed.
	case terminated == n && failed > 0 && run.pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
		return corev1.PodFailed
	case terminated == n && failed == 0 && run.pod.Spec.RestartPolicy != corev1.RestartPolicyAlways:
		return corev1.PodSucceeded
	case was == corev1.PodRunning:
		return corev1.PodRunning // between restarts
	default:
		return corev1.PodPending
	}
}

// UpdatePod is called when a pod's spec changes; a running process cannot change its command,
// so only the new spec's metadata is kept (the kubelet restarts containers for image changes,
// which Deployments never make in place).
func (p *Provider) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	run, ok := p.pods[key(pod.Namespace, pod.Name)]
	if !ok {
		return errdefs.NotFoundf("pod %s/%s is not on this node", pod.Namespace, pod.Name)
	}
	run.pod.ObjectMeta = *pod.ObjectMeta.DeepCopy()
	return nil
}

// DeletePod stops the pod's processes (SIGTERM to each process group, SIGKILL after the grace
// period), reports every container terminated, and frees the pod's address and directory.
func (p *Provider) DeletePod(_ context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	run, ok := p.pods[key(pod.Namespace, pod.Name)]
	if !ok {
		p.mu.Unlock()
		return errdefs.NotFoundf("pod %s/%s is not on this node", pod.Namespace, pod.Name)
	}
	delete(p.pods, key(pod.Namespace, pod.Name))
	close(run.stop)
	var cmds []*exec.Cmd
	for _, c := range run.all() {
		if c.cmd != nil {
			cmds = append(cmds, c.cmd)
		}
	}
	p.mu.Unlock()
	grace := 30 * time.Second
	if s := pod.Spec.TerminationGracePeriodSeconds; s != nil {
		grace = time.Duration(*s) * time.Second
	}
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	for _, cmd := range cmds {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	stopped := make(chan struct{})
	go func() { run.wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(grace):
		for _, cmd := range cmds {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		<-stopped
	}
	// Whatever the containers started in their groups goes too.
	for _, cmd := range cmds {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range run.all() {
		if c.status.State.Terminated == nil {
			c.status.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 137, Reason: "Killed", FinishedAt: metav1.Now()}}
		}
		c.status.Ready = c.init && c.status.State.Terminated.ExitCode == 0
	}
	run.deleted = true
	p.publish(run)
	delete(p.ips, run.pod.Status.PodIP)
	return os.RemoveAll(run.dir)
}

// StopAll deletes every pod, for the node's shutdown: no process outlives the node.
func (p *Provider) StopAll(ctx context.Context) {
	p.mu.Lock()
	pods := make([]*corev1.Pod, 0, len(p.pods))
	for _, run := range p.pods {
		pod := run.pod.DeepCopy()
		pod.DeletionGracePeriodSeconds = new(int64(5))
		pods = append(pods, pod)
	}
	p.notify = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, pod := range pods {
		wg.Go(func() { _ = p.DeletePod(ctx, pod) })
	}
	wg.Wait()
}

// GetPod returns a pod on this node.
func (p *Provider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	run, ok := p.pods[key(namespace, name)]
	if !ok {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", namespace, name)
	}
	return run.pod.DeepCopy(), nil
}

// GetPodStatus returns a pod's status.
func (p *Provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns every pod on this node.
func (p *Provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(p.pods))
	for _, run := range p.pods {
		out = append(out, run.pod.DeepCopy())
	}
	return out, nil
}

// NotifyPods registers the pod controller's callback for status changes.
func (p *Provider) NotifyPods(_ context.Context, f func(*corev1.Pod)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notify = f
}

// GetContainerLogs returns what a container has written to stdout and stderr, every run of it
// (see openLog for the options).
func (p *Provider) GetContainerLogs(ctx context.Context, namespace, podName, containerName string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	p.mu.Lock()
	run, ok := p.pods[key(namespace, podName)]
	if !ok {
		p.mu.Unlock()
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", namespace, podName)
	}
	path := ""
	for _, c := range run.all() {
		if c.spec.Name == containerName {
			path = c.logPath
		}
	}
	p.mu.Unlock()
	if path == "" {
		return nil, errdefs.NotFoundf("pod %s/%s has no started container %s", namespace, podName, containerName)
	}
	return openLog(ctx, path, opts, run.stop)
}

// errUnsupported answers the node API calls that have no meaning for a process.
func errUnsupported(what string) error {
	return errdefs.InvalidInputf("the process node does not support %s", what)
}

// RunInContainer is not supported: a process has no container to exec into.
func (p *Provider) RunInContainer(context.Context, string, string, string, []string, api.AttachIO) error {
	return errUnsupported("exec")
}

// AttachToContainer is not supported.
func (p *Provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return errUnsupported("attach")
}

// GetStatsSummary is not supported.
func (p *Provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return nil, errUnsupported("stats")
}

// GetMetricsResource is not supported.
func (p *Provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, errUnsupported("resource metrics")
}

// PortForward is not supported: every pod address is reachable from the host already.
func (p *Provider) PortForward(context.Context, string, string, int32, io.ReadWriteCloser) error {
	return errUnsupported("port forwarding (pod addresses are reachable from the host)")
}

// allocateIP returns an unused address of the pod range for a pod: from the first host address
// on, short of the range's last (broadcast) address and at most 253 of them. The caller holds
// p.mu.
func (p *Provider) allocateIP() (string, error) {
	a := p.prefix.Addr().Next()
	for range 253 {
		next := a.Next()
		if !p.prefix.Contains(next) {
			break // a is the last address of the range
		}
		if ip := a.String(); ip != p.cfg.HostIP && !p.ips[ip] {
			p.ips[ip] = true
			return ip, nil
		}
		a = next
	}
	return "", fmt.Errorf("no free pod address in %s", p.prefix)
}

// imageList names the mapped images for error messages.
func (c Config) imageList() string {
	names := make([]string, 0, len(c.Images))
	for k := range c.Images {
		names = append(names, k)
	}
	if len(names) == 0 {
		return "no entries"
	}
	return strings.Join(names, ", ")
}
