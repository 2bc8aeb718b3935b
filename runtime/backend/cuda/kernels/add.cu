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

// add.cu: elementwise addition.
//
// add_f32: dst[i] = a[i] + b[i] for i < n. dst may be a or b (in place).
// add_bias_f32: dst[r*n + j] = x[r*n + j] + bias[j] for r < rows, j < n; dst may be x.
//
// Launch: one-dimensional grid-stride loops over n (add_f32) or rows*n (add_bias_f32),
// correct for any grid and block; the Go side uses block 256 and grid ceil(count/256) capped
// at 65535. Every parameter is 8 bytes wide.

#include "common.cuh"

extern "C" __global__ void add_f32(float* dst, const float* a, const float* b, long long n) {
    for (long long i = grid_start(); i < n; i += grid_stride()) {
        dst[i] = a[i] + b[i];
    }
}

extern "C" __global__ void add_bias_f32(float* dst, const float* x, const float* bias,
                                        long long rows, long long n) {
    if (rows <= 0 || n <= 0) {
        return;
    }
    const long long total = rows * n;
    for (long long i = grid_start(); i < total; i += grid_stride()) {
        dst[i] = x[i] + bias[i % n];
    }
}
