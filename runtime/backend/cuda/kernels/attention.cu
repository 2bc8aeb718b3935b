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

// attention.cu: bidirectional scaled dot-product attention with grouped KV heads.
//
// attention_f32: q and dst are (lq, h, dh), k and v are (lk, hkv, dh), row-major; query head
// hh reads KV head hh / (h/hkv). keymask is NULL (every key visible) or lk bytes, 0 hiding a
// key. For each query i and head hh:
//   s_j = (float)scale * sum_d q[i][hh][d] * k[j][g][d]   over visible keys j
//   dst[i][hh] = sum_j softmax(s)_j * v[j][g]
// computed in float32 in one pass with an online softmax: running maximum m (starting at
// -INFINITY), running sum l and accumulator acc, rescaled by expf(m_old - m_new) whenever a
// score raises the maximum (the first visible key rescales by expf(-inf) = 0, never inf-inf);
// hidden keys are skipped, so they contribute exactly 0. dst = acc / l at the end. At least one
// key must be visible (the Go side checks); dst must not alias q, k or v.
//
// Launch: one warp per (query i, head hh) pair, pair = i*h + hh: block 128 (4 warps), grid
// ceil(lq*h/4); warp w of block b takes pair b*4 + w and returns past lq*h. The kernel works
// for any grid (warps loop over pairs with stride gridDim.x * warps per block) and any block
// of whole warps (a trailing partial warp, if blockDim.x is not a multiple of 32, does
// nothing). Lane t keeps elements d = t, t+32, ... of q and of the accumulator in registers
// for dh <= 256; a larger dh takes a slower path that reads q from memory and accumulates in
// dst. Dot products are reduced across the warp with __shfl_xor_sync, which gives every lane
// the same bits, so the softmax branches are warp-uniform. Every parameter is 8 bytes wide.

#include "common.cuh"

// ATTN_PER_LANE is the number of elements of a head each lane holds in registers: dh <= 256.
#define ATTN_PER_LANE 8

extern "C" __global__ void attention_f32(float* dst, const float* q, const float* k,
                                         const float* v, const unsigned char* keymask,
                                         long long lq, long long lk, long long h, long long hkv,
                                         long long dh, double scale) {
    const long long warpsPerBlock = (long long)(blockDim.x >> 5);
    const long long warp = (long long)(threadIdx.x >> 5);
    const int lane = (int)(threadIdx.x & 31u);
    // Shapes the Go side rejects (h not a multiple of hkv, ...) do nothing rather than
    // index out of bounds.
    if (warp >= warpsPerBlock || h <= 0 || hkv <= 0 || h % hkv != 0 || dh <= 0) {
        return;
    }
    const long long group = h / hkv;
    const long long pairs = lq * h;
    const long long kstride = hkv * dh; // floats between consecutive keys' rows
    const float sc = (float)scale;

    for (long long pair = (long long)blockIdx.x * warpsPerBlock + warp; pair < pairs;
         pair += (long long)gridDim.x * warpsPerBlock) {
        const long long hh = pair % h;
        const long long g = hh / group;
        const float* qr = q + pair * dh; // (i*h + hh)*dh
        float* out = dst + pair * dh;
        const float* kb = k + g * dh;
        const float* vb = v + g * dh;
        float m = -INFINITY;
        float l = 0.0f;

        if (dh <= 32 * ATTN_PER_LANE) {
            float qv[ATTN_PER_LANE];
            float acc[ATTN_PER_LANE];
#pragma unroll
            for (int t = 0; t < ATTN_PER_LANE; ++t) {
                const long long d = lane + 32 * t;
                qv[t] = d < dh ? qr[d] : 0.0f;
                acc[t] = 0.0f;
            }
            for (long long j = 0; j < lk; ++j) {
                if (keymask != NULL && keymask[j] == 0) {
                    continue;
                }
                const float* kr = kb + j * kstride;
                const float* vr = vb + j * kstride;
                float part = 0.0f;
#pragma unroll
                for (int t = 0; t < ATTN_PER_LANE; ++t) {
                    const long long d = lane + 32 * t;
                    if (d < dh) {
                        part += qv[t] * kr[d];
                    }
                }
                const float s = warp_allsum(part) * sc;
                float alpha, p;
                if (s > m) {
                    alpha = expf(m - s); // 0 for the first visible key (m = -inf)
                    m = s;
                    p = 1.0f;
                } else {
                    alpha = 1.0f;
                    p = expf(s - m);
                }
                l = l * alpha + p;
#pragma unroll
                for (int t = 0; t < ATTN_PER_LANE; ++t) {
                    const long long d = lane + 32 * t;
                    if (d < dh) {
                        acc[t] = acc[t] * alpha + p * vr[d];
                    }
                }
            }
#pragma unroll
            for (int t = 0; t < ATTN_PER_LANE; ++t) {
                const long long d = lane + 32 * t;
                if (d < dh) {
                    out[d] = acc[t] / l;
                }
            }
        } else {
            // dh > 256: the same computation with q read from memory and the accumulator in
            // this pair's row of dst, which only this warp touches (each lane its own d).
            for (long long d = lane; d < dh; d += 32) {
                out[d] = 0.0f;
            }
            for (long long j = 0; j < lk; ++j) {
                if (keymask != NULL && keymask[j] == 0) {
                    continue;
                }
                const float* kr = kb + j * kstride;
                const float* vr = vb + j * kstride;
                float part = 0.0f;
                for (long long d = lane; d < dh; d += 32) {
                    part += qr[d] * kr[d];
                }
                const float s = warp_allsum(part) * sc;
                float alpha, p;
                if (s > m) {
                    alpha = expf(m - s);
                    m = s;
                    p = 1.0f;
                } else {
                    alpha = 1.0f;
                    p = expf(s - m);
                }
                l = l * alpha + p;
                for (long long d = lane; d < dh; d += 32) {
                    out[d] = out[d] * alpha + p * vr[d];
                }
            }
            for (long long d = lane; d < dh; d += 32) {
                out[d] = out[d] / l;
            }
        }
    }
}
