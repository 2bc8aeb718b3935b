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

// gather.cu: row gather (embedding lookup).
//
// gather_f32: dst[r][j] = table[ids[r]][j] for r < rows, j < d; table and dst are row-major
// with rows of d floats, ids a device array of rows 64-bit row indices (the Go side checks
// them against the table's row count).
//
// Launch: one-dimensional grid-stride loop over rows*d, correct for any grid and block; the
// Go side uses block 256 and grid ceil(rows*d/256) capped at 65535. Every parameter is 8
// bytes wide.

#include "common.cuh"

extern "C" __global__ void gather_f32(float* dst, const float* table, const long long* ids,
                                      long long rows, long long d) {
    if (rows <= 0 || d <= 0) {
        return;
    }
    const long long total = rows * d;
    for (long long i = grid_start(); i < total; i += grid_stride()) {
        const long long r = i / d;
        const long long j = i - r * d;
        dst[i] = table[ids[r] * d + j];
    }
}
