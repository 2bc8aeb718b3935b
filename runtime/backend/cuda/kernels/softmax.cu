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

// softmax.cu: softmax of the rows of x.
//
// softmax_f32: for each row r < rows of n floats, m = max_j x[r][j], e_j = expf(x[r][j] - m),
// dst[r][j] = e_j / sum_j e_j, all in float32 (expf within 2 ULP, no fast math; the sum is a
// block reduction). -INFINITY entries of a row that has a finite entry get exactly 0
// (expf(-inf) = 0). dst may be x: the maximum is reduced (behind a barrier) before any write,
// and every element is then read and written by the same thread.
//
// Launch: one block per row (grid rows, block 256, no dynamic shared memory); blocks loop
// over rows with stride gridDim.x, so any grid works, and any one-dimensional block of up to
// 1024 threads. Every parameter is 8 bytes wide.

#include "common.cuh"

extern "C" __global__ void softmax_f32(float* dst, const float* x, long long rows, long long n) {
    if (n <= 0) {
        return;
    }
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + r * n;
        float* dr = dst + r * n;
        float m = -INFINITY;
        for (long long j = threadIdx.x; j < n; j += blockDim.x) {
            m = fmaxf(m, xr[j]);
        }
        m = block_max(m);
        float sum = 0.0f;
        for (long long j = threadIdx.x; j < n; j += blockDim.x) {
            const float e = expf(xr[j] - m);
            dr[j] = e;
            sum += e;
        }
        sum = block_sum(sum);
        for (long long j = threadIdx.x; j < n; j += blockDim.x) {
            dr[j] = dr[j] / sum;
        }
    }
}
