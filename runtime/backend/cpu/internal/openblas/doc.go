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

// Package openblas binds the one OpenBLAS routine the CPU backend's benchmarks compare
// against, cblas_sgemm. It is built only with the openblas build tag (and cgo), needs
// libopenblas and its cblas.h (Debian: libopenblas-dev), and is never linked into the product:
// only BenchmarkOpenBLASSgemm imports it. It is a package of its own because a Go package
// that uses cgo cannot also hold Go assembly.
package openblas
