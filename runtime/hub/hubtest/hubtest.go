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

// Package hubtest serves the Hugging Face Hub's HTTP endpoints that a pull uses, for a
// repository built from a local folder, on loopback: the revision API with file metadata
// (sizes, LFS SHA-256, git blob ids), resolve downloads with byte ranges (LFS files through a
// redirect to a second server, as the Hub redirects them to its CDN), bearer-token checks,
// and faults a test switches on: a connection cut part way through a file, a corrupted byte.
package hubtest

import (
	"crypto/sha1" //nolint:gosec // git blob ids are SHA-1
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// lfsThreshold is the size above which the Hub stores a file in LFS (and publishes its
// SHA-256); smaller files are git blobs.
const lfsThreshold = 10 << 10

// Hub is a fake Hub serving one repository at one commit.
type Hub struct {
	*httptest.Server
	// Repo is the repository id; Revision the branch that resolves to Commit.
	Repo, Revision, Commit string
	// Token, if set, is the only bearer token the Hub accepts; without it every request is
	// allowed.
	Token string

	files map[string][]byte
	cdn   *httptest.Server // another address, as the Hub's CDN is another host

	mu      sync.Mutex
	cutAt   map[string]int64 // file: cut the next download of it after this many bytes
	corrupt map[string]bool  // file: serve one byte flipped
	ranges  []string         // Range headers received, as "file=range"
	gets    map[string]int   // downloads started, by file
}

// New serves the files of dir (top level only) as repo at branch revision.
func New(dir, repo, revision string) (*Hub, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	h := &Hub{Repo: repo, Revision: revision, files: map[string][]byte{}, cutAt: map[string]int64{},
		corrupt: map[string]bool{}, gets: map[string]int{}}
	commit := sha1.New() //nolint:gosec // a commit id only has to be stable
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		h.files[e.Name()] = data
		_, _ = fmt.Fprintf(commit, "%s %d\n", e.Name(), len(data))
		_, _ = commit.Write(data)
	}
	h.Commit = hex.EncodeToString(commit.Sum(nil))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/models/{org}/{name}/revision/{rev...}", h.revision)
	mux.HandleFunc("GET /{org}/{name}/resolve/{rev}/{file}", h.resolve)
	cdn := http.NewServeMux()
	cdn.HandleFunc("GET /blobs/{file}", h.blob)
	h.cdn = httptest.NewServer(cdn)
	h.Server = httptest.NewServer(mux)
	return h, nil
}

// Close shuts the Hub and its CDN down.
func (h *Hub) Close() {
	h.Server.Close()
	h.cdn.Close()
}

// CutNextDownload makes the next download of file stop after n bytes, with the connection
// closed.
func (h *Hub) CutNextDownload(file string, n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cutAt[file] = n
}

// Corrupt makes every download of file carry one flipped byte.
func (h *Hub) Corrupt(file string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.corrupt[file] = true
}

// Ranges returns the Range headers received so far, as "file=bytes=N-".
func (h *Hub) Ranges() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ranges)
}

// Downloads returns how many downloads of file started.
func (h *Hub) Downloads(file string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gets[file]
}

// authorized checks the bearer token and answers 401 as the Hub does when it is wrong.
func (h *Hub) authorized(w http.ResponseWriter, r *http.Request) bool {
	if h.Token == "" || r.Header.Get("Authorization") == "Bearer "+h.Token {
		return true
	}
	w.Header().Set("X-Error-Code", "RepoNotFound")
	w.Header().Set("X-Error-Message", "Invalid credentials in Authorization header")
	http.Error(w, "Invalid credentials in Authorization header", http.StatusUnauthorized)
	return false
}

// known checks the repository and revision, answering 404 with the Hub's error code.
func (h *Hub) known(w http.ResponseWriter, r *http.Request, rev string) bool {
	if r.PathValue("org")+"/"+r.PathValue("name") != h.Repo {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		http.Error(w, "Repository not found", http.StatusNotFound)
		return false
	}
	if rev != h.Revision && rev != h.Commit {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.Header().Set("X-Error-Message", "Invalid rev id: "+rev)
		http.Error(w, "Invalid rev id", http.StatusNotFound)
		return false
	}
	return true
}

func (h *Hub) revision(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(w, r) || !h.known(w, r, r.PathValue("rev")) {
		return
	}
	type lfs struct {
		SHA256      string `json:"sha256"`
		Size        int    `json:"size"`
		PointerSize int    `json:"pointerSize"`
	}
	type sibling struct {
		RFilename string `json:"rfilename"`
		Size      int    `json:"size"`
		BlobID    string `json:"blobId"`
		LFS       *lfs   `json:"lfs,omitempty"`
	}
	out := struct {
		ID       string    `json:"id"`
		SHA      string    `json:"sha"`
		Siblings []sibling `json:"siblings"`
	}{ID: h.Repo, SHA: h.Commit}
	names := make([]string, 0, len(h.files))
	for name := range h.files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		data := h.files[name]
		blob := sha1.New() //nolint:gosec // git blob ids are SHA-1
		_, _ = fmt.Fprintf(blob, "blob %d\x00", len(data))
		_, _ = blob.Write(data)
		s := sibling{RFilename: name, Size: len(data), BlobID: hex.EncodeToString(blob.Sum(nil))}
		if len(data) > lfsThreshold {
			sum := sha256.Sum256(data)
			s.LFS = &lfs{SHA256: hex.EncodeToString(sum[:]), Size: len(data), PointerSize: 134}
		}
		out.Siblings = append(out.Siblings, s)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// resolve answers small files itself and redirects LFS files to the blob path, as the Hub
// sends them to its CDN.
func (h *Hub) resolve(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(w, r) || !h.known(w, r, r.PathValue("rev")) {
		return
	}
	name := r.PathValue("file")
	data, ok := h.files[name]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		http.Error(w, "Entry not found", http.StatusNotFound)
		return
	}
	if len(data) > lfsThreshold {
		http.Redirect(w, r, h.cdn.URL+"/blobs/"+name, http.StatusFound)
		return
	}
	h.serve(w, r, name)
}

// blob serves an LFS file; like a CDN it needs no token, and refuses one: a client must not
// send the Hub's token to another host.
func (h *Hub) blob(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		http.Error(w, "the token must not leave the Hub's host", http.StatusBadRequest)
		return
	}
	h.serve(w, r, r.PathValue("file"))
}

// serve writes file from the requested range on, with the faults switched on for it.
func (h *Hub) serve(w http.ResponseWriter, r *http.Request, name string) {
	data, ok := h.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	h.gets[name]++
	cut, cutting := h.cutAt[name]
	delete(h.cutAt, name)
	if rg := r.Header.Get("Range"); rg != "" {
		h.ranges = append(h.ranges, name+"="+rg)
	}
	if h.corrupt[name] {
		data = slices.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	h.mu.Unlock()
	var from int64
	status := http.StatusOK
	if rg, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes="); ok {
		start, _, _ := strings.Cut(rg, "-")
		n, err := strconv.ParseInt(start, 10, 64)
		if err != nil || n < 0 || n >= int64(len(data)) {
			http.Error(w, "bad range", http.StatusRequestedRangeNotSatisfiable)
			return
		}
		from, status = n, http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	body := data[from:]
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Accept-Ranges", "bytes")
	w.WriteHeader(status)
	if cutting && cut < int64(len(body)) {
		_, _ = w.Write(body[:cut])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		// Hijack and close: the client sees the body end early.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
			}
		}
		return
	}
	_, _ = w.Write(body)
}
