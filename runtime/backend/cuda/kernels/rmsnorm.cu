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

// rmsnorm.cu: RMS normalisation of the rows of x.
//
// rmsnorm_f32: for each row r < rows of d floats, ms = sum(x[r][j]^2) / d in float32 (block
// reduction), scale = 1 / sqrt(ms + (float)eps), dst[r][j] = (x[r][j] * scale) * w[j]. As
// the CPU backend computes it, ms + eps is rounded to float32 and the square root and its
// reciprocal are taken in double before rounding scale to float32: the same value as
// x / sqrtf(ms + eps) within an ULP, and bit-identical scale to the CPU for the same ms.
// dst may be x (every element is read before the row's first write, behind a barrier).
//
// Launch: one block per row (grid rows, block 256, no dynamic shared memory); blocks loop
// over rows with stride gridDim.x, so any grid works, and any one-dimensional block of up to
// 1024 threads. Every parameter is 8 bytes wide.

#include "common.cuh"

extern "C" __global__ void rmsnorm_f32(float* dst, const float* x, const float* w,
                                       long long rows, long long d, double eps) {
    if (d <= 0) {
        return;
    }
    const float epsf = (float)eps;
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + r * d;
        float* dr = dst + r * d;
        float ss = 0.0f;
        for (long long j = threadIdx.x; j < d; j += blockDim.x) {
            const float v = xr[j];
            ss += v * v;
        }
        ss = block_sum(ss);
        const float ms = ss / (float)d;
        const float scale = (float)(1.0 / sqrt((double)(ms + epsf)));
        for (long long j = threadIdx.x; j < d; j += blockDim.x) {
            dr[j] = (xr[j] * scale) * w[j];
        }
    }
}
