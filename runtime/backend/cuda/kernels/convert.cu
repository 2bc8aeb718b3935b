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

// convert.cu: float32 <-> bfloat16 conversion; bfloat16 values are raw 16-bit storage.
//
// f32_to_bf16: dst[i] = bf16(src[i]) for i < n, rounded to nearest even
// (__float2bfloat16_rn); NaN stays NaN (as the canonical quiet NaN 0x7fff), infinities stay
// infinities, overflow rounds to infinity.
// bf16_to_f32: dst[i] = float(src[i]) for i < n, exact.
//
// Launch: one-dimensional grid-stride loops over n, correct for any grid and block; the Go
// side uses block 256 and grid ceil(n/256) capped at 65535. Every parameter is 8 bytes wide.

#include <cuda_bf16.h>

#include "common.cuh"

extern "C" __global__ void f32_to_bf16(unsigned short* dst, const float* src, long long n) {
    for (long long i = grid_start(); i < n; i += grid_stride()) {
        dst[i] = __bfloat16_as_ushort(__float2bfloat16_rn(src[i]));
    }
}

extern "C" __global__ void bf16_to_f32(float* dst, const unsigned short* src, long long n) {
    for (long long i = grid_start(); i < n; i += grid_stride()) {
        dst[i] = __bfloat162float(__ushort_as_bfloat16(src[i]));
    }
}
