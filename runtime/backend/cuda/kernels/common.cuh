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

// common.cuh: helpers shared by the kernels: grid-stride index helpers and block-wide
// reductions (sum, max) over a one-dimensional block of any size up to 1024 threads (a whole
// number of warps or not). Included by every kernel file; all.cu includes them all into one
// translation unit, hence the include guard.
//
// The helpers are inline functions with external linkage, not static: nvcc names the shared
// memory of a static function after a hash of the source file's absolute path, which would
// make the PTX depend on where the repository is checked out.

#ifndef DLLM_KERNELS_COMMON_CUH
#define DLLM_KERNELS_COMMON_CUH

#include <math.h>

// grid_start and grid_stride give the index of the calling thread and the number of threads
// in the grid, in 64 bits, for grid-stride loops over one-dimensional grids.
__device__ __forceinline__ long long grid_start(void) {
    return (long long)blockIdx.x * (long long)blockDim.x + (long long)threadIdx.x;
}

__device__ __forceinline__ long long grid_stride(void) {
    return (long long)blockDim.x * (long long)gridDim.x;
}

// warp_sum_lanes returns, in lane 0, the sum of v over lanes 0..n-1 of the calling warp
// (1 <= n <= 32). Exactly those n lanes must call it; other lanes' results are partial sums.
__device__ __forceinline__ float warp_sum_lanes(float v, unsigned lane, unsigned n) {
    const unsigned mask = n >= 32u ? 0xffffffffu : ((1u << n) - 1u);
    for (unsigned off = 16u; off > 0u; off >>= 1) {
        const float o = __shfl_down_sync(mask, v, off);
        if (lane + off < n) {
            v += o;
        }
    }
    return v;
}

// warp_max_lanes is warp_sum_lanes with fmaxf.
__device__ __forceinline__ float warp_max_lanes(float v, unsigned lane, unsigned n) {
    const unsigned mask = n >= 32u ? 0xffffffffu : ((1u << n) - 1u);
    for (unsigned off = 16u; off > 0u; off >>= 1) {
        const float o = __shfl_down_sync(mask, v, off);
        if (lane + off < n) {
            v = fmaxf(v, o);
        }
    }
    return v;
}

// warp_allsum returns the sum of v over all 32 lanes of a full warp, in every lane. The
// butterfly adds the same pairs in every lane, so every lane gets the same bits.
__device__ __forceinline__ float warp_allsum(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, off);
    }
    return v;
}

// block_sum returns the sum of v over every thread of the (one-dimensional) block, in every
// thread. Every thread of the block must call it (it synchronises the block); it may be
// called again right away (it ends with a barrier, so its shared memory can be reused).
// The order of the additions depends only on blockDim.x: the result is deterministic.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float part[32];
    __shared__ float total;
    const unsigned tid = threadIdx.x;
    const unsigned lane = tid & 31u;
    const unsigned warp = tid >> 5;
    const unsigned nthreads = blockDim.x;
    const unsigned nwarps = (nthreads + 31u) >> 5;
    v = warp_sum_lanes(v, lane, min(32u, nthreads - (warp << 5)));
    if (lane == 0u) {
        part[warp] = v;
    }
    __syncthreads();
    if (tid < nwarps) {
        const float t = warp_sum_lanes(part[tid], tid, nwarps);
        if (tid == 0u) {
            total = t;
        }
    }
    __syncthreads();
    const float r = total;
    __syncthreads();
    return r;
}

// block_max is block_sum with fmaxf (threads without data pass -INFINITY).
__device__ __forceinline__ float block_max(float v) {
    __shared__ float part[32];
    __shared__ float total;
    const unsigned tid = threadIdx.x;
    const unsigned lane = tid & 31u;
    const unsigned warp = tid >> 5;
    const unsigned nthreads = blockDim.x;
    const unsigned nwarps = (nthreads + 31u) >> 5;
    v = warp_max_lanes(v, lane, min(32u, nthreads - (warp << 5)));
    if (lane == 0u) {
        part[warp] = v;
    }
    __syncthreads();
    if (tid < nwarps) {
        const float t = warp_max_lanes(part[tid], tid, nwarps);
        if (tid == 0u) {
            total = t;
        }
    }
    __syncthreads();
    const float r = total;
    __syncthreads();
    return r;
}

#endif // DLLM_KERNELS_COMMON_CUH
