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

package v1alpha1

// Condition types of a DLLMService. Each is re-derived on every reconcile from the objects the
// controller owns; none is trusted from an earlier pass.
const (
	// ConditionReady is True when the runtime Deployment has rolled out the current spec and at
	// least one runtime Pod of it is ready to serve requests.
	ConditionReady = "Ready"

	// ConditionProgressing is True while the runtime Deployment is rolling out a new spec or
	// scaling, and False once the rollout is complete or has stalled.
	ConditionProgressing = "Progressing"

	// ConditionDegraded is True when the service cannot reach its desired state without help:
	// the rollout exceeded its progress deadline, Pods cannot be created, replicas are
	// unavailable after the rollout, or the controller could not apply the objects it owns.
	ConditionDegraded = "Degraded"

	// ConditionCacheTuned is True once the tuner has converged on settings that hold the
	// quality floor, False while it explores or waits; absent unless spec.cache.mode is
	// Autotune.
	ConditionCacheTuned = "CacheTuned"

	// ConditionQualityDegraded is True when the settings in force measured below the quality
	// floor and no safer settings within bounds are left; absent unless spec.cache.mode is
	// Autotune.
	ConditionQualityDegraded = "QualityDegraded"
)

// Condition reasons. They are UpperCamelCase so clients can switch on them.
const (
	// ReasonAvailable (Ready=True): the current spec is rolled out and Pods serve.
	ReasonAvailable = "Available"
	// ReasonDeploymentPending (Ready=False, Progressing=True): the runtime Deployment is not
	// created yet or its controller has not observed the latest change.
	ReasonDeploymentPending = "DeploymentPending"
	// ReasonNoReadyReplicas (Ready=False): no runtime Pod of the current spec is ready yet,
	// usually because weights are downloading or loading.
	ReasonNoReadyReplicas = "NoReadyReplicas"
	// ReasonDownloading (Ready=False): a runtime Pod is pulling the model's weights (an hf://
	// source); the message names the Pod.
	ReasonDownloading = "Downloading"
	// ReasonLoading (Ready=False): a runtime Pod has its weights and is loading them and
	// warming up.
	ReasonLoading = "Loading"
	// ReasonPullFailed (Ready=False, Degraded=True): pulling the weights failed; the message
	// carries the pull's last log lines (a wrong token, a missing revision, a checksum
	// mismatch). Kubernetes retries the pull with back-off.
	ReasonPullFailed = "PullFailed"
	// ReasonScaledToZero (Ready=False, Progressing=False): zero replicas are desired.
	ReasonScaledToZero = "ScaledToZero"
	// ReasonRolloutInProgress (Progressing=True): Pods of the current spec are being created,
	// started or made ready, or old Pods are being removed.
	ReasonRolloutInProgress = "RolloutInProgress"
	// ReasonRolloutComplete (Progressing=False): every desired Pod runs the current spec and is
	// available.
	ReasonRolloutComplete = "RolloutComplete"
	// ReasonProgressDeadlineExceeded (Progressing=False, Degraded=True): the rollout made no
	// progress within the Deployment's progress deadline.
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	// ReasonReplicaFailure (Degraded=True): the Deployment cannot create Pods, for example
	// because of a quota or an admission rule.
	ReasonReplicaFailure = "ReplicaFailure"
	// ReasonReplicasUnavailable (Degraded=True): the rollout finished but fewer Pods are
	// available than desired.
	ReasonReplicasUnavailable = "ReplicasUnavailable"
	// ReasonApplyFailed (Degraded=True): the controller could not apply the objects it owns; the
	// message carries the API server's answer and the controller retries.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonInvalidSpec (Ready=False, Degraded=True): the spec passed the schema but cannot be
	// rendered; the message names the field. The controller waits for a spec change.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonAsExpected (Degraded=False): nothing needs attention.
	ReasonAsExpected = "AsExpected"
)
