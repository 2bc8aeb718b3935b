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

package render

import (
	"maps"
	"path"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/runtime/contract"
)

const (
	// runtimeUID is the non-root user the runtime runs as (the distroless "nonroot" user).
	runtimeUID = int64(65532)
	// progressDeadlineSeconds allows for downloading and loading tens of GB of weights before a
	// rollout counts as stalled.
	progressDeadlineSeconds = int32(1800)
	// terminationGracePeriodSeconds lets in-flight requests finish when a Pod stops.
	terminationGracePeriodSeconds = int64(60)

	containerName = "runtime"
	// PullContainerName is the init container that pulls hf:// weights.
	PullContainerName = "pull"
	configVolume      = "config"
	tmpVolume         = "tmp"
	adminVolume       = "admin-token"
)

func deployment(svc *v1alpha1.DLLMService, image string, loc location, configHash string) *appsv1ac.DeploymentApplyConfiguration {
	spec := appsv1ac.DeploymentSpec().
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(svc))).
		WithProgressDeadlineSeconds(progressDeadlineSeconds).
		WithTemplate(corev1ac.PodTemplateSpec().
			WithLabels(Labels(svc)).
			WithAnnotations(map[string]string{AnnotationConfigHash: configHash}).
			WithSpec(podSpec(svc, image, loc)))
	// With autoscaling the HorizontalPodAutoscaler owns the replica count; applying one here
	// would fight it.
	if svc.Spec.Autoscaling == nil {
		spec.WithReplicas(DesiredReplicas(svc))
	}
	dep := objectMeta(appsv1ac.Deployment(svc.Name, svc.Namespace), svc).WithSpec(spec)
	if a := svc.Spec.Autoscaling; a != nil && a.KEDA != nil {
		dep.WithAnnotations(map[string]string{AnnotationScaledBy: ScaledByKEDA})
	}
	return dep
}

// DesiredReplicas is the replica count svc asks for without autoscaling.
func DesiredReplicas(svc *v1alpha1.DLLMService) int32 {
	if svc.Spec.Replicas != nil {
		return *svc.Spec.Replicas
	}
	return v1alpha1.DefaultReplicas
}

func podSpec(svc *v1alpha1.DLLMService, image string, loc location) *corev1ac.PodSpecApplyConfiguration {
	volumes := []*corev1ac.VolumeApplyConfiguration{
		corev1ac.Volume().WithName(configVolume).WithConfigMap(
			corev1ac.ConfigMapVolumeSource().WithName(ConfigMapName(svc))),
		// The root filesystem is read-only; the runtime writes scratch files here.
		corev1ac.Volume().WithName(tmpVolume).WithEmptyDir(corev1ac.EmptyDirVolumeSource()),
	}
	if loc.volume != nil {
		volumes = append(volumes, loc.volume)
	}
	if Tuned(svc) {
		volumes = append(volumes, corev1ac.Volume().WithName(adminVolume).WithSecret(
			corev1ac.SecretVolumeSource().WithSecretName(AdminSecretName(svc)).
				WithItems(corev1ac.KeyToPath().WithKey(AdminTokenKey).WithPath(path.Base(contract.AdminTokenPath)))))
	}
	pod := corev1ac.PodSpec().
		// The runtime never talks to the Kubernetes API.
		WithAutomountServiceAccountToken(false).
		WithEnableServiceLinks(false).
		WithTerminationGracePeriodSeconds(terminationGracePeriodSeconds).
		WithSecurityContext(corev1ac.PodSecurityContext().
			WithRunAsNonRoot(true).
			WithRunAsUser(runtimeUID).
			WithRunAsGroup(runtimeUID).
			WithFSGroup(runtimeUID).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
		WithContainers(container(svc, image, loc)).
		WithVolumes(volumes...)
	if loc.pull {
		pod.WithInitContainers(pullContainer(svc, image, loc))
	}
	if gpu := svc.Spec.GPU; gpu != nil {
		pod.WithNodeSelector(map[string]string{GPUProductLabel: gpuProducts[gpu.Type]}).
			// GPU nodes are commonly tainted so that only Pods asking for GPUs land there.
			WithTolerations(corev1ac.Toleration().
				WithKey(string(GPUResource)).
				WithOperator(corev1.TolerationOpExists).
				WithEffect(corev1.TaintEffectNoSchedule))
	}
	return pod
}

func container(svc *v1alpha1.DLLMService, image string, loc location) *corev1ac.ContainerApplyConfiguration {
	mounts := []*corev1ac.VolumeMountApplyConfiguration{
		corev1ac.VolumeMount().WithName(configVolume).WithMountPath(contract.ConfigDir).WithReadOnly(true),
		corev1ac.VolumeMount().WithName(tmpVolume).WithMountPath("/tmp"),
	}
	if loc.volume != nil {
		mounts = append(mounts, corev1ac.VolumeMount().
			WithName(modelVolume).WithMountPath(contract.ModelsDir).WithReadOnly(loc.readOnly))
	}
	if Tuned(svc) {
		// The tuner pushes settings to the runtime's admin endpoints with this token.
		mounts = append(mounts, corev1ac.VolumeMount().
			WithName(adminVolume).WithMountPath(path.Dir(contract.AdminTokenPath)).WithReadOnly(true))
	}
	args := []string{contract.ServeCommand, contract.ConfigFlag, contract.ConfigPath}
	if Tuned(svc) {
		// The runtime's default, named so that the path is visible and can be remapped (the
		// local cluster's process node rewrites mount paths it finds in args).
		args = append(args, contract.AdminTokenFlag, contract.AdminTokenPath)
	}
	port := intstr.FromString(contract.PortName)
	return corev1ac.Container().
		WithName(containerName).
		WithImage(image).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithArgs(args...).
		WithPorts(corev1ac.ContainerPort().
			WithName(contract.PortName).
			WithContainerPort(Port(svc)).
			WithProtocol(corev1.ProtocolTCP)).
		// Readiness waits for the weights and a warm-up forward pass; liveness only asks whether
		// the process answers, so a long model load never gets the container killed.
		WithReadinessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath(contract.ReadyPath).WithPort(port)).
			WithPeriodSeconds(5).
			WithFailureThreshold(3)).
		WithLivenessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath(contract.HealthPath).WithPort(port)).
			WithPeriodSeconds(10).
			WithTimeoutSeconds(5).
			WithFailureThreshold(3)).
		WithResources(resources(svc)).
		WithSecurityContext(corev1ac.SecurityContext().
			WithAllowPrivilegeEscalation(false).
			WithReadOnlyRootFilesystem(true).
			WithRunAsNonRoot(true).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL"))).
		WithVolumeMounts(mounts...)
}

// pullContainer is the init container that pulls an hf:// source into the model volume
// (dllm-runtime pull: verified, resumable, a no-op when the volume already holds the commit).
// The Hub token, when the spec names one, reaches this container alone. A failed pull's last
// log lines become its termination message, which the status reports.
func pullContainer(svc *v1alpha1.DLLMService, image string, loc location) *corev1ac.ContainerApplyConfiguration {
	c := corev1ac.Container().
		WithName(PullContainerName).
		WithImage(image).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithArgs(contract.PullCommand, svc.Spec.Model.Source, contract.DirFlag, loc.dir).
		WithTerminationMessagePolicy(corev1.TerminationMessageFallbackToLogsOnError).
		// Downloading is network- and disk-bound; the requests only keep it schedulable.
		WithResources(corev1ac.ResourceRequirements().WithRequests(corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("250m"),
			corev1.ResourceMemory: resource.MustParse("256Mi"),
		})).
		WithSecurityContext(corev1ac.SecurityContext().
			WithAllowPrivilegeEscalation(false).
			WithReadOnlyRootFilesystem(true).
			WithRunAsNonRoot(true).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL"))).
		WithVolumeMounts(
			corev1ac.VolumeMount().WithName(modelVolume).WithMountPath(contract.ModelsDir),
			corev1ac.VolumeMount().WithName(tmpVolume).WithMountPath("/tmp"))
	if ref := svc.Spec.Model.TokenSecretRef; ref != nil {
		c.WithEnv(corev1ac.EnvVar().WithName(contract.HubTokenEnv).WithValueFrom(
			corev1ac.EnvVarSource().WithSecretKeyRef(corev1ac.SecretKeySelector().
				WithName(ref.Name).WithKey(or(ref.Key, v1alpha1.DefaultTokenSecretKey)))))
	}
	return c
}

// resources are spec.runtime.resources with the GPUs of spec.gpu added as limits (extended
// resources need no request: it defaults to the limit).
func resources(svc *v1alpha1.DLLMService) *corev1ac.ResourceRequirementsApplyConfiguration {
	r := corev1ac.ResourceRequirements()
	var requests, limits corev1.ResourceList
	if user := svc.Spec.Runtime.Resources; user != nil {
		requests, limits = maps.Clone(user.Requests), maps.Clone(user.Limits)
	}
	if gpu := svc.Spec.GPU; gpu != nil {
		if limits == nil {
			limits = corev1.ResourceList{}
		}
		limits[GPUResource] = *resourceQuantity(gpu.Count)
	}
	if len(requests) > 0 {
		r.WithRequests(requests)
	}
	if len(limits) > 0 {
		r.WithLimits(limits)
	}
	return r
}
