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

// Package v1alpha1 holds the serving.dllm.dev/v1alpha1 API: the DLLMService kind, its validation
// (OpenAPI bounds and CEL rules, each naming the field it rejects), its documented defaults, and the
// condition types and reasons the controller reports.
//
// It may import only k8s.io/api and k8s.io/apimachinery. Defaults are never written into stored
// objects (no +kubebuilder:default): the API keeps what the user asked for, and the values in
// defaults.go are applied when rendering.
//
// +kubebuilder:object:generate=true
// +kubebuilder:ac:generate=true
// +groupName=serving.dllm.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "serving.dllm.dev", Version: "v1alpha1"}

	// SchemeGroupVersion is GroupVersion under the name generated client code expects.
	SchemeGroupVersion = GroupVersion

	// SchemeBuilder registers this API's kinds with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds this API's kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &DLLMService{}, &DLLMServiceList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
