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

package hub

import (
	"cmp"
	"context"
	"crypto/sha1" //nolint:gosec // git blob ids are SHA-1; this checks integrity, not authenticity
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// ManifestFile records what a pull wrote: the source, its commit and each file's checksum.
	ManifestFile = ".dllm-pull.json"
	// partialDir holds downloads in progress, inside the target folder so that the final
	// rename stays on one filesystem and is atomic.
	partialDir = ".dllm-pull.partial"
)

// Manifest is the record of a finished pull.
type Manifest struct {
	// Source is the pulled source as given; Commit the commit it resolved to.
	Source string `json:"source"`
	Commit string `json:"commit"`
	// Files are the files written, with the Hub's sizes and checksums.
	Files []File `json:"files"`
}

// Result describes a pull.
type Result struct {
	Manifest
	// Downloaded counts the bytes fetched by this pull (0 for a no-op).
	Downloaded int64
	// UpToDate reports that the folder already held the commit's files.
	UpToDate bool
}

// Pull downloads the files of src the runtime loads (Wanted) into dir, verified, and records
// them in dir's manifest. When the manifest already records the commit src resolves to and
// every file is present with its size, nothing is downloaded. Downloads in progress live in a
// hidden folder inside dir and resume on the next pull after an interruption.
func (c *Client) Pull(ctx context.Context, src Source, dir string) (*Result, error) {
	rev, err := c.Resolve(ctx, src)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, f := range rev.Files {
		if Wanted(f.Name) {
			files = append(files, f)
		}
	}
	if !slices.ContainsFunc(files, func(f File) bool { return f.Name == "config.json" }) ||
		!slices.ContainsFunc(files, func(f File) bool { return filepath.Ext(f.Name) == ".safetensors" }) {
		return nil, fmt.Errorf("%w: %s at commit %s has no config.json or no .safetensors files", ErrNotCheckpoint, src, rev.Commit)
	}
	res := &Result{Manifest: Manifest{Source: src.String(), Commit: rev.Commit, Files: files}}
	if err := os.MkdirAll(filepath.Join(dir, partialDir), 0o755); err != nil {
		return nil, fmt.Errorf("pull %s: %w", src, err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, partialDir, "lock"), func() {
		c.o.Log.Info("waiting for another pull into the same folder", "dir", dir)
	})
	if err != nil {
		return nil, fmt.Errorf("pull %s: lock %s: %w", src, dir, err)
	}
	defer unlock()
	if upToDate(dir, res.Manifest) {
		res.UpToDate = true
		c.o.Log.Info("model already pulled", "source", src.String(), "commit", rev.Commit, "dir", dir)
		return res, nil
	}
	// An earlier manifest no longer describes the folder once a file changes.
	if err := os.Remove(filepath.Join(dir, ManifestFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("pull %s: %w", src, err)
	}
	p := &progress{start: time.Now()}
	for _, f := range files {
		p.total += f.Size
	}
	c.o.Log.Info("pulling model", "source", src.String(), "commit", rev.Commit, "files", len(files), "bytes", p.total, "dir", dir)
	stop := c.logProgress(p)
	err = c.fetchAll(ctx, src.Repo, rev.Commit, dir, files, p)
	stop()
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", src, err)
	}
	if err := writeManifest(dir, res.Manifest); err != nil {
		return nil, fmt.Errorf("pull %s: %w", src, err)
	}
	res.Downloaded = p.fetched.Load()
	secs := time.Since(p.start).Seconds()
	c.o.Log.Info("model pulled", "source", src.String(), "commit", rev.Commit, "bytes", p.total,
		"downloaded", res.Downloaded, "seconds", secs, "bytes_per_second", float64(res.Downloaded)/max(secs, 1e-9))
	return res, nil
}

// upToDate reports whether dir's manifest records m's commit and files and every file is there
// with its size.
func upToDate(dir string, m Manifest) bool {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return false
	}
	var have Manifest
	if json.Unmarshal(data, &have) != nil || have.Commit != m.Commit || !slices.Equal(have.Files, m.Files) {
		return false
	}
	for _, f := range m.Files {
		info, err := os.Stat(filepath.Join(dir, f.Name))
		if err != nil || !info.Mode().IsRegular() || info.Size() != f.Size {
			return false
		}
	}
	return true
}

// writeManifest writes m into dir atomically.
func writeManifest(dir string, m Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, partialDir, ManifestFile)
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return commit(tmp, filepath.Join(dir, ManifestFile))
}

// fetchAll downloads files into dir, c.o.Parallel at a time, and returns the first error after
// every download has stopped.
func (c *Client) fetchAll(ctx context.Context, repo, commitID, dir string, files []File, p *progress) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Largest first, so that the long downloads start early and the small ones fill in.
	order := slices.Clone(files)
	slices.SortStableFunc(order, func(a, b File) int { return cmp.Compare(b.Size, a.Size) })
	work := make(chan File)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range min(c.o.Parallel, len(order)) {
		wg.Go(func() {
			for f := range work {
				if err := c.fetch(ctx, repo, commitID, dir, f, p); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, f := range order {
		select {
		case work <- f:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// fetch brings one file into dir: kept when it is already there with the right size and
// checksum, else downloaded into the partial folder (resuming what an earlier attempt left),
// verified and renamed into place.
func (c *Client) fetch(ctx context.Context, repo, commitID, dir string, f File, p *progress) error {
	dst := filepath.Join(dir, f.Name)
	if ok, err := verified(dst, f); err != nil {
		return err
	} else if ok {
		p.done.Add(f.Size)
		c.o.Log.Info("file present", "file", f.Name, "bytes", f.Size)
		return nil
	}
	part := filepath.Join(dir, partialDir, f.Name+".part")
	var err error
	for attempt := 1; attempt <= c.o.Attempts; attempt++ {
		if err = c.download(ctx, repo, commitID, f, part, p); err == nil || ctx.Err() != nil ||
			errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) {
			break
		}
		c.o.Log.Warn("download interrupted, resuming", "file", f.Name, "attempt", attempt, "err", err.Error())
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt*attempt) * 200 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	if err := commit(part, dst); err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	c.o.Log.Info("file pulled", "file", f.Name, "bytes", f.Size)
	return nil
}

// download appends the rest of f to part (a ranged request from its current length), then
// checks part's size and checksum; a corrupt part is deleted so the next pull starts over.
func (c *Client) download(ctx context.Context, repo, commitID string, f File, part string, p *progress) error {
	out, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = out.Close() }()
	h := newHash(f)
	have, err := io.Copy(h, out) // the checksum covers what earlier attempts wrote
	if err != nil {
		return err
	}
	if have > f.Size {
		if err := out.Truncate(0); err != nil {
			return err
		}
		_, _ = out.Seek(0, io.SeekStart)
		h, have = newHash(f), 0
	}
	p.done.Add(have)
	credited := have
	defer func() { p.done.Add(-credited) }() // the caller credits a finished file itself
	if have < f.Size {
		u := c.base.JoinPath(repo, "resolve", commitID, url.PathEscape(f.Name))
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		if have > 0 {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
		}
		resp, err := c.do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		if err := statusError(resp, f.Name); err != nil {
			return err
		}
		if have > 0 && resp.StatusCode != http.StatusPartialContent {
			// The server ignored the range: start over.
			if err := out.Truncate(0); err != nil {
				return err
			}
			_, _ = out.Seek(0, io.SeekStart)
			p.done.Add(-credited)
			h, credited = newHash(f), 0
		}
		w := io.MultiWriter(out, h, counter{p, &credited})
		if _, err := io.Copy(w, io.LimitReader(resp.Body, f.Size-credited+1)); err != nil {
			return err
		}
		have = credited
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if have != f.Size {
		if have > f.Size {
			_ = os.Remove(part)
			return fmt.Errorf("%w: %s is longer than the %d bytes the Hub lists", ErrCorrupt, f.Name, f.Size)
		}
		return fmt.Errorf("%s: the download ended after %d of %d bytes", f.Name, have, f.Size)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), f.checksum(); got != want {
		_ = os.Remove(part)
		return fmt.Errorf("%w: %s has %s %s, the Hub lists %s", ErrCorrupt, f.Name, f.checksumKind(), got, want)
	}
	p.done.Add(f.Size)
	return nil
}

// verified reports whether path holds f: its size and checksum match.
func verified(path string, f File) (bool, error) {
	in, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer func() { _ = in.Close() }()
	info, err := in.Stat()
	if err != nil || !info.Mode().IsRegular() || info.Size() != f.Size {
		return false, err
	}
	h := newHash(f)
	if _, err := io.Copy(h, in); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == f.checksum(), nil
}

// newHash returns the hash the Hub publishes for f: SHA-256 of an LFS file, the git blob id
// of a file stored in git.
func newHash(f File) hash.Hash {
	if f.SHA256 != "" {
		return sha256.New()
	}
	h := sha1.New() //nolint:gosec // see the import
	_, _ = fmt.Fprintf(h, "blob %d\x00", f.Size)
	return h
}

func (f File) checksum() string {
	if f.SHA256 != "" {
		return f.SHA256
	}
	return f.BlobID
}

func (f File) checksumKind() string {
	if f.SHA256 != "" {
		return "sha256"
	}
	return "git blob id"
}

// commit renames a finished file into place and makes the rename durable.
func commit(tmp, dst string) error {
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}

// progress counts a pull's bytes: done includes what earlier pulls left, fetched only what this
// one downloaded.
type progress struct {
	start         time.Time
	total         int64
	done, fetched atomic.Int64
}

// counter adds every write to the progress and to a file's running count.
type counter struct {
	p *progress
	n *int64
}

func (c counter) Write(b []byte) (int, error) {
	c.p.done.Add(int64(len(b)))
	c.p.fetched.Add(int64(len(b)))
	*c.n += int64(len(b))
	return len(b), nil
}

// logProgress logs p every ProgressEvery until the returned function is called.
func (c *Client) logProgress(p *progress) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(c.o.ProgressEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				d, fetched := p.done.Load(), p.fetched.Load()
				secs := now.Sub(p.start).Seconds()
				rate := float64(fetched) / max(secs, 1e-9)
				eta := -1.0
				if rate > 0 {
					eta = float64(max(p.total-d, 0)) / rate
				}
				c.o.Log.Info("pulling model", "bytes", d, "of_bytes", p.total, "bytes_per_second", rate, "eta_seconds", eta)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
