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
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

const (
	// SingleFile is the name of an unsharded checkpoint's weights file.
	SingleFile = "model.safetensors"
	// IndexFile is the name of a sharded checkpoint's index; its weight_map maps each tensor
	// name to the shard file (model-0000N-of-0000M.safetensors) that holds it.
	IndexFile = "model.safetensors.index.json"
)

// ErrNotFound is returned, wrapped, by [Checkpoint.Tensor] when the checkpoint has no tensor
// of that name. Match it with errors.Is.
var ErrNotFound = errors.New("tensor not found")

// errClosed is returned by a Checkpoint's methods after Close.
var errClosed = errors.New("checkpoint closed")

// Checkpoint is an open Hugging Face checkpoint folder: its validated config and its
// memory-mapped safetensors files. Create it with [Open]; release it with Close.
type Checkpoint struct {
	// Dir is the folder the checkpoint was opened from.
	Dir string
	// Config is the validated config.json. Its DType is never DTypeUnknown: when config.json
	// does not declare one, it is the dtype the weights are stored in.
	Config Config

	shards  []*shard
	tensors map[string]entry
	closed  bool

	mu     sync.Mutex
	handed map[string]bool // tensors Tensor has returned
	bytes  atomic.Int64    // their bytes
}

// shard is one mapped safetensors file.
type shard struct {
	path     string
	data     []byte
	unmap    func() error
	metadata map[string]string
}

// entry locates one tensor.
type entry struct {
	shard *shard
	info  tensorInfo
}

// indexJSON is model.safetensors.index.json.
type indexJSON struct {
	WeightMap map[string]string `json:"weight_map"`
}

// Open opens the checkpoint in dir: it parses config.json, memory-maps model.safetensors or
// the shards that model.safetensors.index.json lists (the single file wins when both exist,
// as in transformers), validates every header, and checks that every tensor the config
// implies ([Expected]) is present with the right shape and one dtype (torch_dtype when the
// config declares it). Errors name the file and, where one is at fault, the tensor. Tensors the
// config does not imply are allowed and can be read with [Checkpoint.Tensor].
func Open(dir string) (*Checkpoint, error) {
	c, err := open(dir)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint %q: %w", dir, err)
	}
	return c, nil
}

// open does Open's work; on error it leaves nothing mapped.
func open(dir string) (_ *Checkpoint, err error) {
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Dir: dir, Config: cfg, tensors: map[string]entry{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close())
		}
	}()

	// source is the file a missing tensor should have been in.
	source := filepath.Join(dir, SingleFile)
	switch _, statErr := os.Stat(source); {
	case statErr == nil:
		s, err := c.mapShard(source)
		if err != nil {
			return nil, err
		}
		for name, info := range s.tensorInfos {
			c.tensors[name] = entry{shard: s.shard, info: info}
		}
	case errors.Is(statErr, fs.ErrNotExist):
		source = filepath.Join(dir, IndexFile)
		if err := c.openSharded(source); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("no %s or %s: %w", SingleFile, IndexFile, err)
			}
			return nil, err
		}
	default:
		return nil, statErr
	}
	if err := c.checkExpected(source); err != nil {
		return nil, err
	}
	return c, nil
}

// mappedShard is a freshly mapped and parsed shard.
type mappedShard struct {
	shard       *shard
	tensorInfos map[string]tensorInfo
}

// mapShard maps and parses the safetensors file at path and records it for Close.
func (c *Checkpoint) mapShard(path string) (mappedShard, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return mappedShard{}, err
	}
	s := &shard{path: path, data: data, unmap: unmap}
	c.shards = append(c.shards, s)
	h, err := parseHeader(data)
	if err != nil {
		return mappedShard{}, fmt.Errorf("parse %q: %w", path, err)
	}
	s.metadata = h.metadata
	return mappedShard{shard: s, tensorInfos: h.tensors}, nil
}

// openSharded reads the index at indexPath and maps every shard it names.
func (c *Checkpoint) openSharded(indexPath string) error {
	b, err := os.ReadFile(indexPath)
	if err != nil {
		return err
	}
	var idx indexJSON
	if err := json.Unmarshal(b, &idx); err != nil {
		return fmt.Errorf("parse %q: %w", indexPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return fmt.Errorf("parse %q: weight_map missing or empty", indexPath)
	}
	byShard := map[string][]string{} // shard file -> tensor names
	for name, file := range idx.WeightMap {
		// Shards sit next to the index; refuse paths that would read elsewhere.
		if file == "" || filepath.Base(file) != file || !filepath.IsLocal(file) {
			return fmt.Errorf("parse %q: weight_map[%q]: %q is not a file name in the checkpoint folder", indexPath, name, file)
		}
		byShard[file] = append(byShard[file], name)
	}
	files := make([]string, 0, len(byShard))
	for f := range byShard {
		files = append(files, f)
	}
	slices.Sort(files)
	for _, f := range files {
		path := filepath.Join(c.Dir, f)
		s, err := c.mapShard(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("shard %q listed in %q: %w", f, indexPath, err)
			}
			return err
		}
		names := byShard[f]
		slices.Sort(names)
		for _, name := range names {
			info, ok := s.tensorInfos[name]
			if !ok {
				return fmt.Errorf("tensor %q: %q maps it to %q, which does not hold it", name, indexPath, path)
			}
			c.tensors[name] = entry{shard: s.shard, info: info}
		}
	}
	return nil
}

// checkExpected checks the tensors Expected lists against the mapped ones and settles
// c.Config.DType. source is the file named when a tensor is missing.
func (c *Checkpoint) checkExpected(source string) error {
	specs, err := Expected(c.Config)
	if err != nil {
		return err
	}
	want, wantFrom := c.Config.DType, "torch_dtype in "+ConfigFile
	for _, s := range specs {
		e, ok := c.tensors[s.Name]
		if !ok {
			return fmt.Errorf("tensor %q missing from %q%s", s.Name, source, c.unexpectedHint(specs))
		}
		if !slices.Equal(e.info.shape, s.Shape) {
			return fmt.Errorf("tensor %q in %q: shape %v, want %v from %s", s.Name, e.shard.path, e.info.shape, s.Shape, ConfigFile)
		}
		if want == DTypeUnknown {
			want, wantFrom = e.info.dtype, fmt.Sprintf("the dtype of %q", s.Name)
		}
		if e.info.dtype != want {
			return fmt.Errorf("tensor %q in %q: dtype %v, want %v (%s)", s.Name, e.shard.path, e.info.dtype, want, wantFrom)
		}
	}
	c.Config.DType = want
	return nil
}

// unexpectedHint lists a few tensors the config does not imply, which helps to spot a
// misnamed tensor or the wrong family.
func (c *Checkpoint) unexpectedHint(specs []TensorSpec) string {
	known := make(map[string]bool, len(specs))
	for _, s := range specs {
		known[s.Name] = true
	}
	var extra []string
	for name := range c.tensors {
		if !known[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) == 0 {
		return ""
	}
	slices.Sort(extra)
	const maxShown = 3
	more := ""
	if len(extra) > maxShown {
		more = fmt.Sprintf(" and %d more", len(extra)-maxShown)
		extra = extra[:maxShown]
	}
	return fmt.Sprintf(" (it holds tensors the config does not imply: %s%s)", strings.Join(extra, ", "), more)
}

// Tensor returns the tensor called name. Its Data is a read-only view into the mapped file,
// valid until Close. The error wraps [ErrNotFound] when there is no such tensor.
func (c *Checkpoint) Tensor(name string) (Tensor, error) {
	if c.closed {
		return Tensor{}, fmt.Errorf("tensor %q: %w", name, errClosed)
	}
	e, ok := c.tensors[name]
	if !ok {
		return Tensor{}, fmt.Errorf("tensor %q in %q: %w", name, c.Dir, ErrNotFound)
	}
	c.mu.Lock()
	if !c.handed[name] {
		if c.handed == nil {
			c.handed = map[string]bool{}
		}
		c.handed[name] = true
		c.bytes.Add(int64(e.info.end - e.info.begin))
	}
	c.mu.Unlock()
	return Tensor{
		Name:  name,
		DType: e.info.dtype,
		Shape: slices.Clone(e.info.shape),
		// The full slice expression keeps append on the view from writing past the tensor.
		Data: e.shard.data[e.info.begin:e.info.end:e.info.end],
		File: e.shard.path,
	}, nil
}

// Progress returns the bytes of the distinct tensors Tensor has returned so far and of all
// tensors: a loader that reads each tensor before asking for the next has read about handed
// bytes. It is safe to call from another goroutine while the checkpoint is being read.
func (c *Checkpoint) Progress() (handed, total int64) {
	for _, e := range c.tensors {
		total += int64(e.info.end - e.info.begin)
	}
	return c.bytes.Load(), total
}

// Names returns the names of all tensors in the checkpoint, sorted.
func (c *Checkpoint) Names() []string {
	names := make([]string, 0, len(c.tensors))
	for name := range c.tensors {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Metadata returns the __metadata__ strings of the file that holds tensor name (for example
// {"format": "pt"}), or nil when the file has none. The error wraps [ErrNotFound] when there
// is no such tensor.
func (c *Checkpoint) Metadata(name string) (map[string]string, error) {
	if c.closed {
		return nil, fmt.Errorf("tensor %q: %w", name, errClosed)
	}
	e, ok := c.tensors[name]
	if !ok {
		return nil, fmt.Errorf("tensor %q in %q: %w", name, c.Dir, ErrNotFound)
	}
	return maps.Clone(e.shard.metadata), nil
}

// Close unmaps every file. Tensor data obtained from c must not be used afterwards. Calling
// Close again does nothing.
func (c *Checkpoint) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	for _, s := range c.shards {
		if err := s.unmap(); err != nil {
			errs = append(errs, fmt.Errorf("unmap %q: %w", s.path, err))
		}
	}
	c.shards = nil
	return errors.Join(errs...)
}
