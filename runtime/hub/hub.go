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

// Package hub owns fetching checkpoints from the Hugging Face Hub over its HTTP API: resolving a
// repository revision to a commit and its file list, choosing the files the runtime loads,
// downloading them several at a time with resumption after an interruption, verifying each
// against the size and checksum the Hub publishes, and writing each atomically, so that a
// crash never leaves a file that looks complete. A manifest in the target folder makes a second
// pull of the same commit a no-op. The package knows nothing of Kubernetes.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// DefaultEndpoint is the Hub's address; HF_ENDPOINT overrides it for mirrors.
const DefaultEndpoint = "https://huggingface.co"

var (
	// ErrUnauthorized is returned, wrapped, when the Hub refuses the token (or the lack of
	// one) for the repository.
	ErrUnauthorized = errors.New("hub: unauthorized")
	// ErrNotFound is returned, wrapped, when the repository, the revision or a file does not
	// exist (or is invisible to the token).
	ErrNotFound = errors.New("hub: not found")
	// ErrCorrupt is returned, wrapped, when a downloaded file does not match the size or
	// checksum the Hub publishes for it.
	ErrCorrupt = errors.New("hub: corrupt download")
	// ErrNotCheckpoint is returned, wrapped, when the repository has no config.json or no
	// safetensors weights.
	ErrNotCheckpoint = errors.New("hub: not a safetensors checkpoint")
)

// Source is a model on the Hub: hf://ORG/NAME[@REVISION].
type Source struct {
	// Repo is ORG/NAME.
	Repo string
	// Revision is a branch, tag or commit; "main" when the source names none.
	Revision string
}

func (s Source) String() string { return "hf://" + s.Repo + "@" + s.Revision }

// repoPattern is the Hub's repository id: a namespace and a name of letters, digits, '-', '_'
// and '.', neither starting with a separator (the operator's API admits the same).
var repoPattern = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9._]{0,95}/[A-Za-z0-9][-A-Za-z0-9._]{0,95}$`)

// revisionPattern is a branch, tag or commit name, slashes allowed (refs/pr/1).
var revisionPattern = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9._/]{0,127}$`)

// ParseSource parses hf://ORG/NAME[@REVISION].
func ParseSource(s string) (Source, error) {
	rest, ok := strings.CutPrefix(s, "hf://")
	if !ok {
		return Source{}, fmt.Errorf("source %q: not an hf:// source", s)
	}
	repo, rev, hasRev := strings.Cut(rest, "@")
	if !repoPattern.MatchString(repo) || strings.Contains(repo, "..") {
		return Source{}, fmt.Errorf("source %q: the repository must be ORG/NAME", s)
	}
	if !hasRev {
		rev = "main"
	}
	if !revisionPattern.MatchString(rev) || strings.Contains(rev, "..") || strings.HasSuffix(rev, "/") {
		return Source{}, fmt.Errorf("source %q: revision %q is not a branch, tag or commit name", s, rev)
	}
	return Source{Repo: repo, Revision: rev}, nil
}

// Options configure a Client.
type Options struct {
	// Endpoint is the Hub's base URL (DefaultEndpoint when empty).
	Endpoint string
	// Token, if set, is sent as a bearer token to the Endpoint (never to the hosts downloads
	// redirect to).
	Token string
	// HTTP is the client; nil means one with no overall timeout (files are large) and a
	// response-header timeout.
	HTTP *http.Client
	// Parallel is the number of files downloaded at once (default 4).
	Parallel int
	// Attempts is how often a file is tried, each attempt resuming where the last one stopped
	// (default 5).
	Attempts int
	// Log receives progress (bytes, rate, ETA) every ProgressEvery (default 10 s) and a line
	// per file; nil discards it.
	Log           *slog.Logger
	ProgressEvery time.Duration
}

// Client talks to one Hub endpoint.
type Client struct {
	o    Options
	base *url.URL
}

// New returns a client for o.
func New(o Options) (*Client, error) {
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	base, err := url.Parse(strings.TrimRight(o.Endpoint, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("hub endpoint %q: not an http(s) URL", o.Endpoint)
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ResponseHeaderTimeout: time.Minute,
			IdleConnTimeout:       90 * time.Second,
		}}
	}
	// The token is for the endpoint alone. net/http keeps it on redirects within a domain,
	// whatever the port; downloads redirect to a CDN, which must never see it.
	hc := *o.HTTP
	next := hc.CheckRedirect
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != base.Host {
			req.Header.Del("Authorization")
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	o.HTTP = &hc
	o.Parallel = max(o.Parallel, 1)
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Client{o: o, base: base}, nil
}

// File is one file of a revision as the Hub lists it.
type File struct {
	// Name is the path in the repository.
	Name string `json:"name"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of an LFS file's content; empty for a file stored in git.
	SHA256 string `json:"sha256,omitempty"`
	// BlobID is the git blob id (SHA-1 of "blob SIZE\x00" and the content) of a file stored
	// in git.
	BlobID string `json:"blobId,omitempty"`
}

// Revision is a revision resolved to its commit.
type Revision struct {
	// Commit is the commit the revision pointed at.
	Commit string `json:"commit"`
	// Files are every file of the commit.
	Files []File `json:"files"`
}

// revisionJSON is the Hub's answer to GET /api/models/REPO/revision/REV?blobs=true.
type revisionJSON struct {
	SHA      string `json:"sha"`
	Siblings []struct {
		RFilename string `json:"rfilename"`
		Size      int64  `json:"size"`
		BlobID    string `json:"blobId"`
		LFS       *struct {
			SHA256 string `json:"sha256"`
			Size   int64  `json:"size"`
		} `json:"lfs"`
	} `json:"siblings"`
}

// commitPattern is a full git commit id.
var commitPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Resolve asks the Hub for src's commit and file list.
func (c *Client) Resolve(ctx context.Context, src Source) (*Revision, error) {
	u := c.base.JoinPath("api", "models", src.Repo, "revision")
	u = u.JoinPath(url.PathEscape(src.Revision))
	u.RawQuery = "blobs=true"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", src, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if err := statusError(resp, src.String()); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", src, err)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRevisionJSON+1))
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", src, err)
	}
	rev, err := ParseRevision(data)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", src, err)
	}
	return rev, nil
}

// maxRevisionJSON bounds the Hub's revision answer (a repository of thousands of files takes
// a few MB).
const maxRevisionJSON = 64 << 20

var (
	sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
	blobPattern   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// ParseRevision parses the Hub's answer to the revision API with file metadata. Every file must
// have a size and the checksum a download is verified against (an LFS SHA-256, else a git blob
// id), and names must be unique: a pull trusts nothing it cannot check.
func ParseRevision(data []byte) (*Revision, error) {
	if len(data) > maxRevisionJSON {
		return nil, fmt.Errorf("the Hub's revision answer exceeds %d bytes", maxRevisionJSON)
	}
	var r revisionJSON
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("the Hub's answer is not the revision JSON: %w", err)
	}
	if !commitPattern.MatchString(r.SHA) {
		return nil, fmt.Errorf("the Hub's answer has no commit id (sha %q)", r.SHA)
	}
	rev := &Revision{Commit: r.SHA}
	seen := map[string]bool{}
	for _, s := range r.Siblings {
		f := File{Name: s.RFilename, Size: s.Size, BlobID: s.BlobID}
		if s.LFS != nil {
			f.SHA256, f.Size, f.BlobID = s.LFS.SHA256, s.LFS.Size, ""
		}
		switch {
		case f.Name == "" || seen[f.Name]:
			return nil, fmt.Errorf("the Hub's file list names %q twice or not at all", f.Name)
		case f.Size < 0:
			return nil, fmt.Errorf("the Hub lists %s with size %d", f.Name, f.Size)
		case s.LFS != nil && !sha256Pattern.MatchString(f.SHA256):
			return nil, fmt.Errorf("the Hub lists %s without a SHA-256 (%q)", f.Name, f.SHA256)
		case s.LFS == nil && !blobPattern.MatchString(f.BlobID):
			return nil, fmt.Errorf("the Hub lists %s without a blob id (%q): ask for file metadata (blobs=true)", f.Name, f.BlobID)
		}
		seen[f.Name] = true
		rev.Files = append(rev.Files, f)
	}
	return rev, nil
}

// do sends req with the token when it goes to the endpoint's host.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	if c.o.Token != "" && req.URL.Host == c.base.Host {
		req.Header.Set("Authorization", "Bearer "+c.o.Token)
	}
	req.Header.Set("User-Agent", "dllm-runtime")
	return c.o.HTTP.Do(req)
}

// statusError turns an unsuccessful Hub answer into an error wrapping ErrUnauthorized or
// ErrNotFound where it is one, naming what was asked for and the Hub's X-Error-Code.
func statusError(resp *http.Response, what string) error {
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	detail := resp.Header.Get("X-Error-Code")
	if msg := strings.TrimSpace(resp.Header.Get("X-Error-Message")); msg != "" {
		detail = strings.TrimSpace(detail + " " + msg)
	} else if len(body) > 0 && detail == "" {
		detail = strings.TrimSpace(string(body))
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		resp.Header.Get("X-Error-Code") == "GatedRepo":
		return fmt.Errorf("%w: %s: HTTP %d %s: check the token (HF_TOKEN or the token file) and that it may read this repository",
			ErrUnauthorized, what, resp.StatusCode, detail)
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s: HTTP 404 %s", ErrNotFound, what, detail)
	default:
		return fmt.Errorf("%s: HTTP %d %s", what, resp.StatusCode, detail)
	}
}

// Wanted reports whether the runtime loads a file of this name: the config, the tokenizer
// files, the chat template and the safetensors weights with their index, at the repository's
// top level.
func Wanted(name string) bool {
	if strings.Contains(name, "/") {
		return false
	}
	switch name {
	case "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
		"special_tokens_map.json", "chat_template.jinja", "model.safetensors.index.json":
		return true
	}
	return strings.HasSuffix(name, ".safetensors")
}
