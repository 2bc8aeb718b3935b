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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/runtime/contract"
)

// or returns v, or def when v is the zero value (an omitted optional field).
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Backend is the backend svc's runtime uses: spec.runtime.backend when set, otherwise CUDA when
// spec.gpu is set and CPU when it is not.
func Backend(svc *v1alpha1.DLLMService) v1alpha1.Backend {
	if svc.Spec.Runtime.Backend != "" {
		return svc.Spec.Runtime.Backend
	}
	if svc.Spec.GPU != nil {
		return v1alpha1.BackendCUDA
	}
	return v1alpha1.BackendCPU
}

// Port is the runtime's HTTP port.
func Port(svc *v1alpha1.DLLMService) int32 {
	return or(svc.Spec.Runtime.Port, v1alpha1.DefaultPort)
}

// CacheSettings are the cache settings svc's spec asks for, defaults applied.
func CacheSettings(svc *v1alpha1.DLLMService) v1alpha1.CacheSettings {
	c := svc.Spec.Cache
	mode := or(c.Mode, v1alpha1.DefaultCacheMode)
	if mode == v1alpha1.CacheModeOff {
		return v1alpha1.CacheSettings{Mode: mode}
	}
	rho := v1alpha1.DefaultTransferPercent
	if c.TransferPercent != nil {
		rho = *c.TransferPercent
	}
	return v1alpha1.CacheSettings{
		Mode:                    mode,
		PromptRefreshInterval:   or(c.PromptRefreshInterval, v1alpha1.DefaultPromptRefreshInterval),
		ResponseRefreshInterval: or(c.ResponseRefreshInterval, v1alpha1.DefaultResponseRefreshInterval),
		TransferPercent:         &rho,
	}
}

// RuntimeConfig is the runtime configuration for svc, with the model folder at modelDir.
func RuntimeConfig(svc *v1alpha1.DLLMService, modelDir string) contract.Config {
	spec := &svc.Spec
	gpus := 0
	if spec.GPU != nil {
		gpus = int(spec.GPU.Count)
	}
	g := spec.Generation
	temperature := v1alpha1.DefaultTemperatureMilli
	if g.TemperatureMilli != nil {
		temperature = *g.TemperatureMilli
	}
	cfg := contract.Config{
		Model: contract.ModelConfig{
			Name:    svc.Name,
			Family:  string(spec.Model.Family),
			Dir:     modelDir,
			DType:   string(or(spec.Model.DType, v1alpha1.DefaultDType)),
			Backend: string(Backend(svc)),
			GPUs:    gpus,
		},
		Server: contract.ServerConfig{
			Port:         int(Port(svc)),
			MaxBatchSize: int(or(spec.Runtime.MaxBatchSize, v1alpha1.DefaultMaxBatchSize)),
			MaxQueue:     int(or(spec.Runtime.MaxQueue, v1alpha1.DefaultMaxQueue)),
		},
		Generation: contract.GenerationConfig{
			Steps:                     int(or(g.Steps, v1alpha1.DefaultSteps)),
			GenLength:                 int(or(g.GenLength, v1alpha1.DefaultGenLength)),
			BlockLength:               int(or(g.BlockLength, v1alpha1.DefaultBlockLength)),
			Remasking:                 string(or(g.Remasking, v1alpha1.DefaultRemasking)),
			TemperatureMilli:          int(temperature),
			ParallelThresholdPermille: int(g.ParallelThresholdPermille),
		},
	}
	if active := CacheSettings(svc); active.Mode != v1alpha1.CacheModeOff {
		cfg.Cache = contract.CacheConfig{
			Enabled:                 true,
			PromptRefreshInterval:   int(active.PromptRefreshInterval),
			ResponseRefreshInterval: int(active.ResponseRefreshInterval),
			TransferPercent:         int(*active.TransferPercent),
		}
		if active.Mode == v1alpha1.CacheModeAutotune {
			shadow := v1alpha1.DefaultShadowPercent
			if a := spec.Cache.Autotune; a != nil {
				shadow = or(a.ShadowPercent, shadow)
			}
			cfg.Cache.ShadowPercent = int(shadow)
		}
	}
	return cfg
}

// configHash hashes the parts of cfg whose change needs a Pod restart: everything but the cache
// settings, which the runtime applies live.
func configHash(cfg contract.Config) (string, error) {
	cfg.Cache = contract.CacheConfig{}
	data, err := cfg.Marshal()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8]), nil
}

func configMap(svc *v1alpha1.DLLMService, data []byte) *corev1ac.ConfigMapApplyConfiguration {
	return objectMeta(corev1ac.ConfigMap(ConfigMapName(svc), svc.Namespace), svc).
		WithData(map[string]string{contract.ConfigFileName: string(data)})
}

// location says where a model source appears inside the runtime container.
type location struct {
	// volume is the Pod volume holding the checkpoint; nil when it is in the image already.
	volume *corev1ac.VolumeApplyConfiguration
	// readOnly mounts the volume read-only.
	readOnly bool
	// dir is the checkpoint folder inside the container.
	dir string
	// pull says an init container fills the volume (hf:// sources).
	pull bool
}

const modelVolume = "model"

// modelLocation maps spec.model.source to a volume and a folder; cacheClaim, when set, is the
// PersistentVolumeClaim an hf:// source is pulled into. The API server has checked the
// source's form already; the checks here guard objects stored before a schema change.
func modelLocation(source, cacheClaim string) (location, error) {
	scheme, rest, ok := strings.Cut(source, "://")
	if !ok || rest == "" || strings.Contains("/"+rest+"/", "/../") {
		return location{}, fmt.Errorf("spec.model.source: %q is not a valid model source", source)
	}
	switch scheme {
	case "hf":
		// Pulled by an init container into a Pod-local volume, or into a claim that keeps the
		// download for restarts and other replicas. Each revision has its own folder, so
		// services on different revisions can share a claim.
		repo, rev, ok := strings.Cut(rest, "@")
		if !ok {
			rev = "main"
		}
		vol := corev1ac.Volume().WithName(modelVolume).WithEmptyDir(corev1ac.EmptyDirVolumeSource())
		if cacheClaim != "" {
			vol = corev1ac.Volume().WithName(modelVolume).WithPersistentVolumeClaim(
				corev1ac.PersistentVolumeClaimVolumeSource().WithClaimName(cacheClaim))
		}
		return location{volume: vol, readOnly: true, pull: true, dir: path.Join(contract.ModelsDir, "hf", repo, rev)}, nil
	case "pvc":
		claim, sub, _ := strings.Cut(rest, "/")
		return location{
			volume: corev1ac.Volume().WithName(modelVolume).WithPersistentVolumeClaim(
				corev1ac.PersistentVolumeClaimVolumeSource().WithClaimName(claim).WithReadOnly(true)),
			readOnly: true,
			dir:      path.Join(contract.ModelsDir, sub),
		}, nil
	case "file":
		// The API admits only file:///ABSOLUTE/PATH; a host part (file://x/y) is not a path.
		if !strings.HasPrefix(rest, "/") {
			return location{}, fmt.Errorf("spec.model.source: %q must have the form file:///ABSOLUTE/PATH", source)
		}
		return location{dir: path.Clean(rest)}, nil
	case "oci":
		return location{
			volume: corev1ac.Volume().WithName(modelVolume).WithImage(
				corev1ac.ImageVolumeSource().WithReference(rest).WithPullPolicy(corev1.PullIfNotPresent)),
			readOnly: true,
			dir:      contract.ModelsDir,
		}, nil
	default:
		return location{}, fmt.Errorf("spec.model.source: scheme %q is not one of hf, pvc, file, oci", scheme)
	}
}
