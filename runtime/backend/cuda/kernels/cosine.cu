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

// cosine.cu: cosine similarity of the rows of a and b (as PyTorch's cosine_similarity with
// eps = 1e-8).
//
// cosine_f32: for each row r < rows of d floats, dot = sum a*b, na = sum a^2, nb = sum b^2 in
// float32 (block reductions), dst[r] = dot / sqrt(max(na*nb, 1e-16)). As the CPU backend
// computes it, the product na*nb, the clamp and the square root are taken in double (so large
// norms cannot overflow float32) and the root is rounded to float32 before the float32
// division. A zero row gives 0, not NaN.
//
// Launch: one block per row (grid rows, block 256, no dynamic shared memory); blocks loop
// over rows with stride gridDim.x, so any grid works, and any one-dimensional block of up to
// 1024 threads. Every parameter is 8 bytes wide.

#include "common.cuh"

extern "C" __global__ void cosine_f32(float* dst, const float* a, const float* b, long long rows,
                                      long long d) {
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* ar = a + r * d;
        const float* br = b + r * d;
        float dot = 0.0f, na = 0.0f, nb = 0.0f;
        for (long long j = threadIdx.x; j < d; j += blockDim.x) {
            const float x = ar[j];
            const float y = br[j];
            dot += x * y;
            na += x * x;
            nb += y * y;
        }
        dot = block_sum(dot);
        na = block_sum(na);
        nb = block_sum(nb);
        if (threadIdx.x == 0) {
            const double nn = fmax((double)na * (double)nb, 1e-16);
            dst[r] = dot / (float)sqrt(nn);
        }
    }
}
