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

// silumul.cu: the gated SiLU activation of a SwiGLU MLP.
//
// silu_mul_f32: dst[i] = gate[i] / (1 + e^(-gate[i])) * up[i] for i < n, in float32 with expf
// (within 2 ULP, no fast math), as the CPU backend's float32 path computes it. dst may be
// gate or up (in place).
//
// Launch: one-dimensional grid-stride loop over n, correct for any grid and block; the Go
// side uses block 256 and grid ceil(n/256) capped at 65535. Every parameter is 8 bytes wide.

#include "common.cuh"

extern "C" __global__ void silu_mul_f32(float* dst, const float* gate, const float* up,
                                        long long n) {
    for (long long i = grid_start(); i < n; i += grid_stride()) {
        const float g = gate[i];
        const float e = expf(-g);
        dst[i] = g / (1.0f + e) * up[i];
    }
}
