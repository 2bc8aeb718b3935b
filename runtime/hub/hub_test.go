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

package hub_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dllm.dev/dllm-operator/runtime/hub"
	"dllm.dev/dllm-operator/runtime/hub/hubtest"
	"dllm.dev/dllm-operator/runtime/testmodel"
	"dllm.dev/dllm-operator/runtime/weights"
)

const shard = "model-00003-of-00003.safetensors"

// fixture serves a three-shard test checkpoint, plus a file the runtime does not load, as
// org/tiny at branch main.
func fixture(t *testing.T) (*hubtest.Hub, string) {
	t.Helper()
	src := t.TempDir()
	if err := testmodel.Write(src, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 1, Shards: 3}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "README.md"), []byte("# tiny\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := hubtest.New(src, "org/tiny", "main")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h, src
}

func client(t *testing.T, h *hubtest.Hub, token string, log *bytes.Buffer, mods ...func(*hub.Options)) *hub.Client {
	t.Helper()
	o := hub.Options{Endpoint: h.URL, Token: token, Parallel: 3, ProgressEvery: time.Millisecond}
	if log != nil {
		o.Log = slog.New(slog.NewTextHandler(log, nil))
	}
	for _, m := range mods {
		m(&o)
	}
	c, err := hub.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sameFiles checks that dir holds exactly the checkpoint files of src, byte for byte, and a
// manifest.
func sameFiles(t *testing.T, src, dir string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		want, _ := os.ReadFile(filepath.Join(src, e.Name()))
		got, err := os.ReadFile(filepath.Join(dir, e.Name()))
		switch {
		case !hub.Wanted(e.Name()):
			if err == nil {
				t.Errorf("%s was pulled, but the runtime does not load it", e.Name())
			}
		case err != nil || !bytes.Equal(got, want):
			t.Errorf("%s: pulled %d bytes (err %v), want the Hub's %d", e.Name(), len(got), err, len(want))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, hub.ManifestFile)); err != nil {
		t.Errorf("no manifest: %v", err)
	}
	ck, err := weights.Open(dir)
	if err != nil {
		t.Fatalf("the pulled checkpoint does not open: %v", err)
	}
	_ = ck.Close()
}

// A full pull brings every file the runtime loads, verified, logs its progress, and a second
// pull of the same revision downloads nothing.
func TestPullAndNoOp(t *testing.T) {
	h, src := fixture(t)
	h.Token = "hf_good"
	var log bytes.Buffer
	c := client(t, h, "hf_good", &log)
	dir := filepath.Join(t.TempDir(), "model")
	res, err := c.Pull(context.Background(), hub.Source{Repo: "org/tiny", Revision: "main"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	sameFiles(t, src, dir)
	if res.Commit != h.Commit || res.UpToDate || res.Downloaded == 0 || len(res.Files) != 7 {
		t.Errorf("result %+v, want commit %s, 7 files downloaded", res, h.Commit)
	}
	for _, want := range []string{"pulling model", "of_bytes=", "eta_seconds=", "file pulled", "model pulled"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if parts, _ := filepath.Glob(filepath.Join(dir, ".dllm-pull.partial", "*.part")); len(parts) > 0 {
		t.Errorf("partial downloads left behind: %v", parts)
	}

	before := h.Downloads(shard)
	again, err := c.Pull(context.Background(), hub.Source{Repo: "org/tiny", Revision: h.Commit}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.UpToDate || again.Downloaded != 0 || h.Downloads(shard) != before {
		t.Errorf("second pull: %+v, %d downloads of %s (was %d); want a no-op", again, h.Downloads(shard), shard, before)
	}
}

// A connection cut part way through a file is resumed with a range request from where it
// stopped, within one pull or, when that pull gave up, by the next one.
func TestResumeAfterCut(t *testing.T) {
	for _, attempts := range []int{5, 1} {
		h, src := fixture(t)
		h.CutNextDownload(shard, 30000)
		c := client(t, h, "", nil, func(o *hub.Options) { o.Attempts = attempts })
		dir := t.TempDir()
		src2 := hub.Source{Repo: "org/tiny", Revision: "main"}
		res, err := c.Pull(context.Background(), src2, dir)
		if attempts == 1 {
			if err == nil {
				t.Fatal("a pull allowed one attempt succeeded through a cut connection")
			}
			if _, err := os.Stat(filepath.Join(dir, shard)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the cut file is in place after a failed pull: %v", err)
			}
			res, err = c.Pull(context.Background(), src2, dir)
		}
		if err != nil {
			t.Fatalf("attempts %d: %v", attempts, err)
		}
		sameFiles(t, src, dir)
		if want := shard + "=bytes=30000-"; !slices.Contains(h.Ranges(), want) {
			t.Errorf("attempts %d: ranges %v, want %s", attempts, h.Ranges(), want)
		}
		var total int64
		for _, f := range res.Files {
			total += f.Size
		}
		if attempts == 1 && res.Downloaded > total-30000 {
			t.Errorf("the resumed pull downloaded %d of %d bytes: the 30000 the first pull fetched again", res.Downloaded, total)
		}
	}
}

// A file whose bytes do not match the Hub's checksum fails the pull, is never put in place,
// and its partial download is dropped so the next pull starts over.
func TestCorruptFile(t *testing.T) {
	h, _ := fixture(t)
	h.Corrupt(shard)
	c := client(t, h, "", nil)
	dir := t.TempDir()
	_, err := c.Pull(context.Background(), hub.Source{Repo: "org/tiny", Revision: "main"}, dir)
	if !errors.Is(err, hub.ErrCorrupt) || !strings.Contains(err.Error(), "sha256") || !strings.Contains(err.Error(), shard) {
		t.Fatalf("err = %v, want ErrCorrupt naming %s and sha256", err, shard)
	}
	for _, p := range []string{filepath.Join(dir, shard), filepath.Join(dir, ".dllm-pull.partial", shard+".part"), filepath.Join(dir, hub.ManifestFile)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after a corrupt download (%v)", p, err)
		}
	}
	if n := h.Downloads(shard); n != 1 {
		t.Errorf("a corrupt file was downloaded %d times, want 1 (retrying cannot fix the Hub's bytes)", n)
	}
}

// A missing repository, revision or an unauthorised token fail with a clear error and write
// nothing.
func TestErrors(t *testing.T) {
	h, _ := fixture(t)
	h.Token = "hf_good"
	for _, tc := range []struct {
		name, token string
		src         hub.Source
		want        error
		says        string
	}{
		{"missing revision", "hf_good", hub.Source{Repo: "org/tiny", Revision: "v9"}, hub.ErrNotFound, "RevisionNotFound"},
		{"missing repository", "hf_good", hub.Source{Repo: "org/huge", Revision: "main"}, hub.ErrNotFound, "RepoNotFound"},
		{"wrong token", "hf_bad", hub.Source{Repo: "org/tiny", Revision: "main"}, hub.ErrUnauthorized, "check the token"},
		{"no token", "", hub.Source{Repo: "org/tiny", Revision: "main"}, hub.ErrUnauthorized, "HTTP 401"},
	} {
		dir := filepath.Join(t.TempDir(), "model")
		_, err := client(t, h, tc.token, nil).Pull(context.Background(), tc.src, dir)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), tc.src.String()) {
			t.Errorf("%s: err = %v, want %v saying %q and naming %s", tc.name, err, tc.want, tc.says, tc.src)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: the pull created %s", tc.name, dir)
		}
	}
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want hub.Source
		err  string
	}{
		{in: "hf://GSAI-ML/LLaDA-8B-Instruct", want: hub.Source{Repo: "GSAI-ML/LLaDA-8B-Instruct", Revision: "main"}},
		{in: "hf://Dream-org/Dream-v0-Instruct-7B@refs/pr/3", want: hub.Source{Repo: "Dream-org/Dream-v0-Instruct-7B", Revision: "refs/pr/3"}},
		{in: "hf://org/name@0123456789abcdef0123456789abcdef01234567", want: hub.Source{Repo: "org/name", Revision: "0123456789abcdef0123456789abcdef01234567"}},
		{in: "pvc://claim/dir", err: "not an hf:// source"},
		{in: "hf://name-only", err: "ORG/NAME"},
		{in: "hf://org/../etc", err: "ORG/NAME"},
		{in: "hf://org/name@", err: "revision"},
		{in: "hf://org/name@a/../b", err: "revision"},
		{in: "hf://org/name@bad rev", err: "revision"},
	} {
		got, err := hub.ParseSource(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSource(%q) = %v, %v; want an error saying %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSource(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// ParseSource takes untrusted input (a CR field): it never panics, and what it accepts
// prints back to a source that parses to the same thing, with nothing that could climb out
// of a folder.
func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"hf://a/b", "hf://a/b@main", "hf://a/b@refs/pr/1", "hf://../x", "hf://a/b@..", "oci://x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, err := hub.ParseSource(s)
		if err != nil {
			return
		}
		again, err := hub.ParseSource(src.String())
		if err != nil || again != src {
			t.Fatalf("ParseSource(%q) = %+v, whose String %q parses to %+v, %v", s, src, src.String(), again, err)
		}
		if strings.Contains(src.Repo+"/"+src.Revision, "..") {
			t.Fatalf("ParseSource(%q) accepted a path climbing out: %+v", s, src)
		}
	})
}

// ParseRevision reads the Hub's answer, untrusted: it never panics, and every file it accepts
// has a unique name, a size and a checksum to verify the download against.
func FuzzParseRevision(f *testing.F) {
	for _, s := range []string{
		`{"sha":"0123456789abcdef0123456789abcdef01234567","siblings":[{"rfilename":"config.json","size":10,"blobId":"0123456789abcdef0123456789abcdef01234567"}]}`,
		`{"sha":"0123456789abcdef0123456789abcdef01234567","siblings":[{"rfilename":"model.safetensors","size":134,"blobId":"0123456789abcdef0123456789abcdef01234567","lfs":{"sha256":"` + strings.Repeat("ab", 32) + `","size":99,"pointerSize":134}}]}`,
		`{"sha":"x","siblings":[]}`, `{"siblings":[{"rfilename":"a"},{"rfilename":"a"}]}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rev, err := hub.ParseRevision(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, file := range rev.Files {
			if file.Name == "" || seen[file.Name] || file.Size < 0 || (len(file.SHA256) != 64 && len(file.BlobID) != 40) {
				t.Fatalf("accepted %+v", file)
			}
			seen[file.Name] = true
		}
	})
}

// A revision answer without file metadata, or with a file listed twice, is refused.
func TestParseRevisionRefuses(t *testing.T) {
	sha := `"sha":"0123456789abcdef0123456789abcdef01234567"`
	for body, says := range map[string]string{
		`{` + sha + `,"siblings":[{"rfilename":"config.json"}]}`:                                                     "blob id",
		`{` + sha + `,"siblings":[{"rfilename":"a.safetensors","size":3,"lfs":{"sha256":"zz","size":3}}]}`:           "SHA-256",
		`{` + sha + `,"siblings":[{"rfilename":"x","size":-1,"blobId":"0123456789abcdef0123456789abcdef01234567"}]}`: "size -1",
		`{"sha":"main","siblings":[]}`: "commit",
		`<html>`:                       "not the revision JSON",
	} {
		if _, err := hub.ParseRevision([]byte(body)); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("ParseRevision(%s) = %v, want an error saying %q", body, err, says)
		}
	}
}

// Pods sharing a cache volume pull into one folder one at a time: each file is downloaded
// once, and every pull ends with the complete checkpoint.
func TestConcurrentPullsShareAFolder(t *testing.T) {
	h, src := fixture(t)
	dir := t.TempDir()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := client(t, h, "", nil).Pull(context.Background(), hub.Source{Repo: "org/tiny", Revision: "main"}, dir)
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	sameFiles(t, src, dir)
	if n := h.Downloads(shard); n != 1 {
		t.Errorf("%s downloaded %d times by three pulls into one folder, want 1", shard, n)
	}
}
