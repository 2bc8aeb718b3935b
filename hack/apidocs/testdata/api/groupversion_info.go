// Package v1 is a tiny API for the generator's tests.
//
// +groupName=example.dllm.dev
package v1
