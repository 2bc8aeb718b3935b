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

package processnode

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
)

// followPoll is how often a followed log is checked for new output.
const followPoll = 200 * time.Millisecond

// openLog serves `kubectl logs` for one container's log file: tailLines and limitBytes as the
// kubelet applies them, and --follow until the request ends or the pod is deleted. The file
// holds every run of the container, so --previous, timestamps and since-times have nothing to
// select by and are refused rather than ignored.
func openLog(ctx context.Context, path string, opts api.ContainerLogOpts, podStopped <-chan struct{}) (io.ReadCloser, error) {
	switch {
	case opts.Previous:
		return nil, errUnsupported("--previous (one log holds every run of a container)")
	case opts.Timestamps:
		return nil, errUnsupported("--timestamps")
	case opts.SinceSeconds > 0 || !opts.SinceTime.IsZero():
		return nil, errUnsupported("--since and --since-time")
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errdefs.NotFoundf("container has not started yet: no log")
	}
	if err != nil {
		return nil, err
	}
	if opts.Tail > 0 {
		if err := seekTail(f, opts.Tail); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	var r io.Reader = f
	if opts.Follow {
		r = &follower{ctx: ctx, f: f, stopped: podStopped}
	}
	if opts.LimitBytes > 0 {
		r = io.LimitReader(r, int64(opts.LimitBytes))
	}
	return struct {
		io.Reader
		io.Closer
	}{r, f}, nil
}

// seekTail positions f at the start of its last n lines (a final line without a newline
// counts), reading backwards in blocks so a long log is not read whole.
func seekTail(f *os.File, n int) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	end := st.Size()
	buf := make([]byte, 32<<10)
	// A trailing newline ends the last line rather than starting an empty one.
	newlines, pos := 0, end
	if end > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, end-1); err != nil {
			return err
		}
		if last[0] == '\n' {
			pos--
		}
	}
	for pos > 0 {
		size := min(int64(len(buf)), pos)
		pos -= size
		chunk := buf[:size]
		if _, err := f.ReadAt(chunk, pos); err != nil {
			return err
		}
		for i := bytes.LastIndexByte(chunk, '\n'); i >= 0; i = bytes.LastIndexByte(chunk[:i], '\n') {
			if newlines++; newlines == n {
				_, err := f.Seek(pos+int64(i)+1, io.SeekStart)
				return err
			}
		}
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}

// follower reads a log file that is still being written: at its end it waits for more until
// the request's context ends or the pod is deleted (then what is left is read and it ends).
type follower struct {
	ctx     context.Context
	f       *os.File
	stopped <-chan struct{}
}

func (r *follower) Read(p []byte) (int, error) {
	for {
		n, err := r.f.Read(p)
		if n > 0 || !errors.Is(err, io.EOF) {
			return n, err
		}
		select {
		case <-r.ctx.Done():
			return 0, io.EOF
		case <-r.stopped:
			// One more read picks up what the last process wrote before it ended.
			n, err := r.f.Read(p)
			if n > 0 {
				return n, nil
			}
			return 0, err
		case <-time.After(followPoll):
		}
	}
}
