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

// rope.cu: rotary position embedding, GPT-NeoX rotate-half style, in place.
//
// rope_f32: x is (L, H, dh) row-major, dh even, half = dh/2. For l < L, h < H, i < half:
//   invFreq = (float)(1 / pow(theta, 2i/dh))            (in double, rounded to float)
//   angle   = (double)((float)positions[l] * invFreq)   (float32 product, as the CPU backend)
//   c, s    = (float)cos(angle), (float)sin(angle)      (in double, rounded to float)
//   x1, x2  = x[l][h][i], x[l][h][i+half]
//   x[l][h][i] = x1*c - x2*s;  x[l][h][i+half] = x2*c + x1*s   (float32, no FMA contraction)
// which is Reference.RoPE of the CPU backend step for step (same roundings, so the same
// result up to the last-bit accuracy of the device's double pow, cos and sin). Position 0
// leaves x unchanged exactly (c = 1, s = 0). Each thread owns the pair (i, i+half) of one
// (l, h), so the in-place update has no races.
//
// Launch: one-dimensional grid-stride loop over L*H*half pairs, correct for any grid and
// block; the Go side uses block 256 and grid ceil(L*H*half/256) capped at 65535. positions is
// a device array of L 64-bit positions. Every parameter is 8 bytes wide.

#include "common.cuh"

extern "C" __global__ void rope_f32(float* x, const long long* positions, long long L,
                                    long long H, long long dh, double theta) {
    const long long half = dh / 2;
    if (L <= 0 || H <= 0 || half <= 0) {
        return;
    }
    const long long total = L * H * half;
    for (long long idx = grid_start(); idx < total; idx += grid_stride()) {
        const long long i = idx % half;
        const long long lh = idx / half; // l*H + h
        const long long l = lh / H;
        const float invFreq = (float)(1.0 / pow(theta, (double)(2 * i) / (double)dh));
        const float a = __fmul_rn((float)positions[l], invFreq);
        const double angle = (double)a;
        const float c = (float)cos(angle);
        const float s = (float)sin(angle);
        float* v = x + lh * dh;
        const float x1 = v[i];
        const float x2 = v[i + half];
        v[i] = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
        v[i + half] = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s));
    }
}
