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
	"testing"

	"dllm.dev/dllm-operator/runtime/tensor"
)

func testGather(t *testing.T, b tensor.Backend) {
	const vocab, dim = 10, 4
	tv := uniform(newRand(8), vocab*dim, -1, 1)
	table := upload(t, b, tv, vocab, dim)
	ids := []int{3, 0, 9, 3}
	want := make([]float32, 0, len(ids)*dim)
	for _, id := range ids {
		want = append(want, tv[id*dim:(id+1)*dim]...)
	}
	dst := alloc(t, b, len(ids), dim)
	if err := b.Gather(dst, table, ids); err != nil {
		t.Fatalf("Gather(dst, table, %v) = %v", ids, err)
	}
	checkExact(t, "Gather(dst, table, [3 0 9 3])", download(t, b, dst), want)

	wantErr(t, "Gather(dst, table[10 4], [10])", b.Gather(alloc(t, b, 1, dim), table, []int{vocab}), tensor.ErrArgument)
	wantErr(t, "Gather(dst, table[10 4], [-1])", b.Gather(alloc(t, b, 1, dim), table, []int{-1}), tensor.ErrArgument)
	wantErr(t, "Gather(dst[3 4], table, 4 ids)", b.Gather(alloc(t, b, 3, dim), table, ids), tensor.ErrShape)
	wantErr(t, "Gather(dst[4 5], table[10 4], 4 ids)", b.Gather(alloc(t, b, 4, 5), table, ids), tensor.ErrShape)
	wantErr(t, "Gather(dst, table[40], ids)", b.Gather(alloc(t, b, 4, dim), alloc(t, b, vocab*dim), ids), tensor.ErrShape)
}
