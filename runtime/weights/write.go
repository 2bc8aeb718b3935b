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

package weights

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// WriteSafetensors writes tensors to a safetensors file at path, atomically: it writes a
// temporary file in the same folder, syncs it and renames it over path, so a reader never
// sees a half-written file. Tensors are laid out sorted by name, the header is padded with
// spaces to a multiple of 8 bytes (so the data starts 8-byte aligned, as the Hugging Face
// writer does), and metadata, when not empty, becomes the header's __metadata__ (transformers
// writes {"format": "pt"}). Each tensor's Data must hold exactly its shape's elements; File is
// ignored.
func WriteSafetensors(path string, tensors []Tensor, metadata map[string]string) error {
	if err := writeSafetensors(path, tensors, metadata); err != nil {
		return fmt.Errorf("write safetensors %q: %w", path, err)
	}
	return nil
}

// headerEntry is one tensor in a written header; the field order is the conventional one.
type headerEntry struct {
	DType       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

func writeSafetensors(path string, tensors []Tensor, metadata map[string]string) error {
	sorted := slices.Clone(tensors)
	slices.SortFunc(sorted, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	hdr := make(map[string]any, len(sorted)+1) // encoding/json writes map keys sorted
	if len(metadata) > 0 {
		hdr[metadataKey] = metadata
	}
	offset := 0
	for i, t := range sorted {
		switch {
		case t.Name == "" || t.Name == metadataKey:
			return fmt.Errorf("tensor name %q reserved", t.Name)
		case i > 0 && sorted[i-1].Name == t.Name:
			return fmt.Errorf("tensor %q given twice", t.Name)
		case t.DType.Size() == 0:
			return fmt.Errorf("tensor %q: dtype %v unsupported", t.Name, t.DType)
		case slices.ContainsFunc(t.Shape, func(d int) bool { return d < 0 }):
			return fmt.Errorf("tensor %q: negative dimension in shape %v", t.Name, t.Shape)
		}
		if want := t.NumElements() * t.DType.Size(); len(t.Data) != want {
			return fmt.Errorf("tensor %q: %d bytes of data, want %d for shape %v %v", t.Name, len(t.Data), want, t.Shape, t.DType)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{} // a scalar: "shape": [], never null
		}
		hdr[t.Name] = headerEntry{DType: t.DType.String(), Shape: shape, DataOffsets: [2]int{offset, offset + len(t.Data)}}
		offset += len(t.Data)
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	if pad := (8 - len(js)%8) % 8; pad > 0 {
		js = append(js, strings.Repeat(" ", pad)...)
	}
	return writeFileAtomic(path, func(w io.Writer) error {
		if err := binary.Write(w, binary.LittleEndian, uint64(len(js))); err != nil {
			return err
		}
		if _, err := w.Write(js); err != nil {
			return err
		}
		for _, t := range sorted {
			if _, err := w.Write(t.Data); err != nil {
				return err
			}
		}
		return nil
	})
}

// WriteIndex writes a model.safetensors.index.json at path, atomically, in the layout
// transformers writes: {"metadata": {"total_size": totalSize}, "weight_map": {...}} with
// weightMap mapping each tensor name to the shard file name that holds it. totalSize is the
// number of tensor data bytes over all shards.
func WriteIndex(path string, weightMap map[string]string, totalSize int64) error {
	idx := struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}{map[string]int64{"total_size": totalSize}, weightMap}
	js, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("write index %q: %w", path, err)
	}
	err = writeFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(js, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("write index %q: %w", path, err)
	}
	return nil
}

// writeFileAtomic writes a temporary file next to path with write, syncs it and renames it
// to path. On error the temporary file is removed and path is untouched.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		// Cleanup errors are dropped: the write error is the one worth reporting.
		if err != nil {
			if !closed {
				_ = f.Close()
			}
			_ = os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; a checkpoint is read by other users (the runtime's
	// container user), like any file os.Create would make.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	closed = true
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
