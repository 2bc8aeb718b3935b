//go:build cuda

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

package cuda

import (
	_ "embed"
	"fmt"
	"math"
	"unsafe"

	"gorgonia.org/cu"
)

// The kernels of kernels/*.cu as PTX, one module per target; `go generate` rewrites them.
var (
	//go:embed kernels_sm80.ptx
	ptxSM80 string
	//go:embed kernels_sm90.ptx
	ptxSM90 string
)

// kernels holds the loaded module and its functions.
type kernels struct {
	mod                                       cu.Module
	add, addBias, rmsNorm, rope, attention    cu.Function
	siluMul, softmax, gather, scatter, cosine cu.Function
	f32ToBF16                                 cu.Function
}

// loadKernels JIT-compiles the PTX for the device's compute capability (major 8: compute_80,
// 9 and later: compute_90, which later devices also run) and looks up every kernel. It runs on
// the context's thread.
func loadKernels(major int) (*kernels, error) {
	ptx, target := ptxSM80, "compute_80"
	if major >= 9 {
		ptx, target = ptxSM90, "compute_90"
	}
	mod, err := cu.LoadData(ptx)
	if err != nil {
		return nil, fmt.Errorf("cuda: load the %s kernels: %w", target, err)
	}
	k := &kernels{mod: mod}
	for name, fn := range map[string]*cu.Function{
		"add_f32": &k.add, "add_bias_f32": &k.addBias, "rmsnorm_f32": &k.rmsNorm, "rope_f32": &k.rope,
		"attention_f32": &k.attention, "silu_mul_f32": &k.siluMul, "softmax_f32": &k.softmax,
		"gather_f32": &k.gather, "scatter_f32": &k.scatter, "cosine_f32": &k.cosine, "f32_to_bf16": &k.f32ToBF16,
	} {
		if *fn, err = mod.Function(name); err != nil {
			return nil, fmt.Errorf("cuda: kernel %s in the %s module: %w", name, target, err)
		}
	}
	return k, nil
}

// Launch shapes: elementwise kernels run grid-stride loops over 256-thread blocks; row kernels
// run one 256-thread block per row.
const (
	blockThreads = 256
	maxGrid      = 65535
)

// launch starts fn on the default stream. Every kernel parameter is 8 bytes wide (pointers,
// long long, double), because cu.Function.Launch copies exactly 8 bytes per parameter; args are
// cu.DevicePtr, int, int64 or float64 values.
func launch(fn cu.Function, grid, block, shared int, args ...any) error {
	vals := make([]uint64, len(args))
	params := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case cu.DevicePtr:
			vals[i] = uint64(v)
		case int:
			vals[i] = uint64(int64(v))
		case int64:
			vals[i] = uint64(v)
		case float64:
			vals[i] = math.Float64bits(v)
		default:
			return fmt.Errorf("cuda: kernel parameter %d has type %T", i, a)
		}
		params[i] = unsafe.Pointer(&vals[i])
	}
	if err := fn.Launch(grid, 1, 1, block, 1, 1, shared, cu.NoStream, params); err != nil {
		return fmt.Errorf("cuda: launch: %w", err)
	}
	return nil
}

// launch1D starts an elementwise kernel over n elements (nothing for n == 0).
func (k *kernels) launch1D(fn cu.Function, n int, args ...any) error {
	if n == 0 {
		return nil
	}
	return launch(fn, min((n+blockThreads-1)/blockThreads, maxGrid), blockThreads, 0, args...)
}

// launchRows starts a row kernel, one block per row (nothing for rows == 0).
func (k *kernels) launchRows(fn cu.Function, rows int, args ...any) error {
	if rows == 0 {
		return nil
	}
	return launch(fn, rows, blockThreads, 0, args...)
}
