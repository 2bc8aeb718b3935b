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
	"fmt"
	"testing"

	"dllm.dev/dllm-operator/runtime/tensor"
)

func testTransfer(t *testing.T, b tensor.Backend) {
	r := newRand(1)
	for _, shape := range [][]int{{}, {1}, {7}, {3, 5}, {2, 3, 4}, {0, 4}} {
		n, _ := tensor.NumElements(shape)
		want := uniform(r, n, -4, 4)
		x := upload(t, b, want, shape...)
		if x.DType() != tensor.F32 || fmt.Sprint(x.Shape()) != fmt.Sprint(shape) {
			t.Errorf("FromFloat32(F32, %v) = %v, want F32%v", shape, x, shape)
		}
		checkExact(t, fmt.Sprintf("ToFloat32(FromFloat32(%v))", shape), download(t, b, x), want)
		z := alloc(t, b, shape...)
		checkExact(t, fmt.Sprintf("ToFloat32(Alloc(%v))", shape), download(t, b, z), make([]float32, n))
	}

	x := upload(t, b, []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	v, err := x.Reshape(3, 2)
	if err != nil {
		t.Fatalf("Reshape(3, 2) of %v = %v", x, err)
	}
	checkExact(t, "ToFloat32(Reshape(3, 2))", download(t, b, v), []float32{1, 2, 3, 4, 5, 6})
	if err := b.Add(v, v, v); err != nil {
		t.Fatalf("Add(view, view, view) = %v", err)
	}
	checkExact(t, "ToFloat32 of a tensor written through its view", download(t, b, x), []float32{2, 4, 6, 8, 10, 12})
	_, err = x.Reshape(4, 2)
	wantErr(t, "Reshape(4, 2) of F32[2 3]", err, tensor.ErrShape)

	// ReadFloat32 (the backend's Reader, or the ToFloat32 fallback) copies into the caller's
	// buffer, row views included.
	rows, err := x.Rows(1, 2)
	if err != nil {
		t.Fatalf("Rows(1, 2) of %v = %v", x, err)
	}
	buf := []float32{-1, -1, -1}
	if err := tensor.ReadFloat32(b, buf, rows); err != nil {
		t.Fatalf("ReadFloat32(row 1) = %v", err)
	}
	checkExact(t, "ReadFloat32(row 1)", buf, []float32{8, 10, 12})
	err = tensor.ReadFloat32(b, make([]float32, 5), x)
	wantErr(t, "ReadFloat32 of 6 values into 5", err, tensor.ErrShape)

	_, err = b.Alloc(tensor.DTypeUnknown, 2)
	wantErr(t, "Alloc(unknown, 2)", err, tensor.ErrDType)
	_, err = b.Alloc(tensor.F32, 2, -1)
	wantErr(t, "Alloc(F32, 2, -1)", err, tensor.ErrShape)
	_, err = b.FromFloat32(tensor.F32, make([]float32, 5), 2, 3)
	wantErr(t, "FromFloat32(F32, 5 values, 2, 3)", err, tensor.ErrShape)
	_, err = b.ToFloat32(nil)
	wantErr(t, "ToFloat32(nil)", err, tensor.ErrArgument)
	foreign, err := tensor.New(tensor.F32, []int{2, 3}, "not storage")
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.ToFloat32(foreign)
	wantErr(t, "ToFloat32(tensor from another backend)", err, tensor.ErrArgument)
}

// testNil checks that every operation rejects a nil operand with ErrArgument.
func testNil(t *testing.T, b tensor.Backend) {
	x := alloc(t, b, 2, 4)
	w := alloc(t, b, 4)
	q := alloc(t, b, 2, 1, 4)
	calls := []struct {
		name string
		err  error
	}{
		{"MatMul(nil, x, x)", b.MatMul(nil, x, x)},
		{"Add(x, nil, x)", b.Add(x, nil, x)},
		{"AddBias(x, x, nil)", b.AddBias(x, x, nil)},
		{"RMSNorm(x, x, nil)", b.RMSNorm(x, x, nil, 1e-5)},
		{"RoPE(nil)", b.RoPE(nil, []int{0, 1}, 1e4)},
		{"Attention(dst, q, nil, q)", b.Attention(alloc(t, b, 2, 1, 4), q, nil, q, nil)},
		{"SiLUMul(x, nil, x)", b.SiLUMul(x, nil, x)},
		{"Softmax(nil, x)", b.Softmax(nil, x)},
		{"Gather(x, nil)", b.Gather(x, nil, []int{0, 1})},
		{"Gather(nil, w)", b.Gather(nil, w, []int{0})},
	}
	for _, c := range calls {
		wantErr(t, c.name, c.err, tensor.ErrArgument)
	}
}
