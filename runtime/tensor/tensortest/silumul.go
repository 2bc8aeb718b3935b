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

package tensortest

import (
	"math"
	"testing"

	"dllm.dev/dllm-operator/runtime/tensor"
)

func testSiLUMul(t *testing.T, b tensor.Backend) {
	r := newRand(5)
	const rows, cols = 4, 16
	gv, uv := uniform(r, rows*cols, -10, 10), uniform(r, rows*cols, -3, 3)
	gv[0], gv[1] = 0, 20 // silu(0) = 0; silu(x) ≈ x for large x
	want := make([]float64, len(gv))
	for i, g := range gv {
		want[i] = float64(g) / (1 + math.Exp(-float64(g))) * float64(uv[i])
	}
	dst := alloc(t, b, rows, cols)
	if err := b.SiLUMul(dst, upload(t, b, gv, rows, cols), upload(t, b, uv, rows, cols)); err != nil {
		t.Fatalf("SiLUMul(dst, gate, up) = %v", err)
	}
	checkULP(t, "SiLUMul(dst, gate, up)", download(t, b, dst), want, ulpSiLUMul)

	g := upload(t, b, gv, rows, cols)
	if err := b.SiLUMul(g, g, upload(t, b, uv, rows, cols)); err != nil {
		t.Fatalf("SiLUMul(gate, gate, up) = %v", err)
	}
	checkULP(t, "SiLUMul(gate, gate, up)", download(t, b, g), want, ulpSiLUMul)

	wantErr(t, "SiLUMul([4 16], [4 16], [4 8])", b.SiLUMul(dst, dst, alloc(t, b, 4, 8)), tensor.ErrShape)
	wantErr(t, "SiLUMul([64], [4 16], [4 16])", b.SiLUMul(alloc(t, b, 64), dst, dst), tensor.ErrShape)
}
