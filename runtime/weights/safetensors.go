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

// This file parses the safetensors format itself rather than with
// github.com/nlpodyssey/safetensors, which is in go.mod. That library reads zero-copy and,
// from reading its code, checks offsets and sizes without panicking, but it is unfit here:
//   - a truncated file comes back as "metadata incomplete buffer" and a bad range as "invalid
//     metadata offset", with no byte counts and (for truncation) no tensor, while Open must
//     name the tensor, its range and the file so a half-downloaded shard is recognisable;
//   - it accepts all the format's dtypes and hands out uint64 shapes, so every caller would
//     re-check the dtype and convert shapes anyway;
//   - importing it would make it a direct dependency, an edit to go.mod (and go mod tidy) this
//     package should not force for about 150 lines of parsing.
//
// The format is small: an 8-byte little-endian header length N, N bytes of JSON mapping each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// byte after the header) plus an optional "__metadata__" object of strings, then the data.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// maxHeaderSize bounds the JSON header, as the reference implementation does (100 MB).
const maxHeaderSize = 100_000_000

// metadataKey is the header key that holds free-form string metadata, not a tensor.
const metadataKey = "__metadata__"

// Tensor is one tensor of a checkpoint.
type Tensor struct {
	// Name is the tensor's name, e.g. "model.transformer.wte.weight".
	Name string
	// DType is the element type of Data.
	DType DType
	// Shape is the shape, outermost dimension first. An empty shape is a scalar.
	Shape []int
	// Data holds the elements, row-major and little-endian. For a tensor from a Checkpoint
	// it is a read-only view into the mapped file (see the package doc for its lifetime).
	Data []byte
	// File is the path of the file that holds the tensor; empty for tensors built in memory.
	File string
}

// NumElements returns the product of t's shape (1 for a scalar).
func (t Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Float32 returns t's elements converted to a new []float32.
func (t Tensor) Float32() ([]float32, error) {
	dst := make([]float32, t.NumElements())
	if err := t.ToFloat32(dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// ToFloat32 converts t's elements into dst, which must have exactly NumElements elements.
// BF16 and F16 widen exactly.
func (t Tensor) ToFloat32(dst []float32) error {
	n := t.NumElements()
	if len(dst) != n {
		return fmt.Errorf("tensor %q: destination has %d elements, want %d", t.Name, len(dst), n)
	}
	size := t.DType.Size()
	if size == 0 {
		return fmt.Errorf("tensor %q: dtype %v unsupported", t.Name, t.DType)
	}
	if len(t.Data) != n*size {
		return fmt.Errorf("tensor %q: %d bytes of data, want %d for shape %v %v", t.Name, len(t.Data), n*size, t.Shape, t.DType)
	}
	le := binary.LittleEndian
	switch t.DType {
	case BF16:
		for i := range dst {
			dst[i] = DecodeBF16(le.Uint16(t.Data[2*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = DecodeF16(le.Uint16(t.Data[2*i:]))
		}
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(t.Data[4*i:]))
		}
	}
	return nil
}

// FromFloat32 builds an in-memory tensor of type dt from values, rounding to nearest even
// for BF16 and F16. len(values) must equal the product of shape.
func FromFloat32(name string, dt DType, shape []int, values []float32) (Tensor, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return Tensor{}, fmt.Errorf("tensor %q: negative dimension in shape %v", name, shape)
		}
		n *= d
	}
	if len(values) != n {
		return Tensor{}, fmt.Errorf("tensor %q: %d values for shape %v, want %d", name, len(values), shape, n)
	}
	size := dt.Size()
	if size == 0 {
		return Tensor{}, fmt.Errorf("tensor %q: dtype %v unsupported", name, dt)
	}
	data := make([]byte, n*size)
	le := binary.LittleEndian
	for i, v := range values {
		switch dt {
		case BF16:
			le.PutUint16(data[2*i:], EncodeBF16(v))
		case F16:
			le.PutUint16(data[2*i:], EncodeF16(v))
		case F32:
			le.PutUint32(data[4*i:], math.Float32bits(v))
		}
	}
	return Tensor{Name: name, DType: dt, Shape: slices.Clone(shape), Data: data}, nil
}

// tensorInfo is one tensor entry of a parsed header. begin and end are absolute offsets in
// the file.
type tensorInfo struct {
	dtype      DType
	shape      []int
	begin, end int
}

// header is a parsed and validated safetensors header.
type header struct {
	tensors  map[string]tensorInfo
	metadata map[string]string
}

// rawTensorInfo is a header entry as JSON spells it.
type rawTensorInfo struct {
	DType       string   `json:"dtype"`
	Shape       []uint64 `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// parseHeader parses and validates the header of the safetensors file whose bytes are file:
// every tensor has a supported dtype, a byte range inside the file whose length matches its
// shape, and the ranges tile the data area exactly (no gaps, overlaps or trailing bytes),
// as the reference implementation requires. Errors name the offending tensor; the caller adds
// the file.
func parseHeader(file []byte) (header, error) {
	if len(file) < 8 {
		return header{}, fmt.Errorf("file is %d bytes, shorter than the 8-byte header length", len(file))
	}
	n := binary.LittleEndian.Uint64(file)
	if n > maxHeaderSize {
		return header{}, fmt.Errorf("header length %d exceeds the %d-byte limit", n, maxHeaderSize)
	}
	if n > uint64(len(file)-8) {
		return header{}, fmt.Errorf("header length %d beyond the end of the file (%d bytes): file truncated?", n, len(file))
	}
	dataStart := 8 + int(n)
	js := file[8:dataStart]
	if t := bytes.TrimLeft(js, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return header{}, errors.New("header is not a JSON object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(js, &raw); err != nil {
		return header{}, fmt.Errorf("parse header JSON: %w", err)
	}

	h := header{tensors: make(map[string]tensorInfo, len(raw))}
	dataLen := len(file) - dataStart
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic errors
	for _, name := range names {
		if name == metadataKey {
			if err := json.Unmarshal(raw[name], &h.metadata); err != nil {
				return header{}, fmt.Errorf("%s: want an object of strings: %w", metadataKey, err)
			}
			continue
		}
		info, err := parseTensorInfo(raw[name], dataLen)
		if err != nil {
			return header{}, fmt.Errorf("tensor %q: %w", name, err)
		}
		info.begin += dataStart
		info.end += dataStart
		h.tensors[name] = info
	}

	// The ranges must tile [dataStart, len(file)) exactly.
	slices.SortFunc(names, func(a, b string) int {
		ia, ib := h.tensors[a], h.tensors[b]
		if c := ia.begin - ib.begin; c != 0 {
			return c
		}
		if c := ia.end - ib.end; c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	next, prev := dataStart, ""
	for _, name := range names {
		info, ok := h.tensors[name]
		if !ok {
			continue // __metadata__
		}
		switch {
		case info.begin < next:
			return header{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q", name, info.begin-dataStart, info.end-dataStart, prev)
		case info.begin > next:
			return header{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] leave a gap of %d bytes before it", name, info.begin-dataStart, info.end-dataStart, info.begin-next)
		}
		next, prev = info.end, name
	}
	if next != len(file) {
		return header{}, fmt.Errorf("%d bytes after the last tensor's data", len(file)-next)
	}
	return h, nil
}

// parseTensorInfo decodes and checks one header entry against a data area of dataLen bytes.
// The offsets it returns are relative to the data area.
func parseTensorInfo(js json.RawMessage, dataLen int) (tensorInfo, error) {
	var r rawTensorInfo
	if err := json.Unmarshal(js, &r); err != nil {
		return tensorInfo{}, fmt.Errorf("parse header entry: %w", err)
	}
	dt, err := ParseDType(r.DType)
	if err != nil {
		return tensorInfo{}, err
	}
	if r.Shape == nil {
		return tensorInfo{}, errors.New("shape missing")
	}
	if len(r.DataOffsets) != 2 {
		return tensorInfo{}, fmt.Errorf("data_offsets has %d elements, want 2", len(r.DataOffsets))
	}
	begin, end := r.DataOffsets[0], r.DataOffsets[1]
	if begin > end {
		return tensorInfo{}, fmt.Errorf("data_offsets [%d, %d] end before they begin", begin, end)
	}
	if end > uint64(dataLen) {
		return tensorInfo{}, fmt.Errorf("data_offsets [%d, %d] beyond the end of the data (%d bytes): file truncated?", begin, end, dataLen)
	}
	// Every byte count below is bounded by dataLen, so it fits in an int.
	shape := make([]int, len(r.Shape))
	zero := slices.Contains(r.Shape, 0)
	numBytes := uint64(dt.Size())
	for i, d := range r.Shape {
		if !zero && d > uint64(dataLen)/numBytes {
			return tensorInfo{}, fmt.Errorf("shape %v needs more bytes than the data holds (%d)", r.Shape, dataLen)
		}
		if d > math.MaxInt32 && zero {
			return tensorInfo{}, fmt.Errorf("shape %v: dimension %d too large", r.Shape, d)
		}
		if !zero {
			numBytes *= d
		}
		shape[i] = int(d)
	}
	if zero {
		numBytes = 0
	}
	if end-begin != numBytes {
		return tensorInfo{}, fmt.Errorf("data_offsets [%d, %d] hold %d bytes, shape %v of %v needs %d", begin, end, end-begin, r.Shape, dt, numBytes)
	}
	return tensorInfo{dtype: dt, shape: shape, begin: int(begin), end: int(end)}, nil
}
