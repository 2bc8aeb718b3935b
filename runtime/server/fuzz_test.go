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

package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"dllm.dev/dllm-operator/runtime/testmodel"
	"dllm.dev/dllm-operator/runtime/tokenizer"
	"dllm.dev/dllm-operator/runtime/weights"
)

// FuzzRequestParsing feeds arbitrary request bodies to the parsing the handlers do before
// anything reaches the engine: body decoding, prompt forms, stop, messages, the dllm extension
// and max_tokens mapping. Nothing may panic; every rejection is a 4xx naming a type.
func FuzzRequestParsing(f *testing.F) {
	dir := f.TempDir()
	if err := testmodel.Write(dir, testmodel.Options{Family: testmodel.FamilyLLaDA, Seed: 1}); err != nil {
		f.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := weights.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{o: Options{Model: "m", Tokenizer: tok, Config: cfg, EoTID: -1, MaxContext: 64}}
	s.o.Defaults.Steps, s.o.Defaults.GenLength, s.o.Defaults.BlockLength = 8, 8, 4
	s.SetReady(true)
	for _, seed := range []string{
		`{"model":"m","prompt":"hi","max_tokens":5,"stop":["a","b"],"n":2,"dllm":{"steps":3,"block_length":2,"cache":{"transfer_ratio":0.5}}}`,
		`{"model":"m","prompt":[1,2,3],"stop":"x"}`,
		`{"model":"m","prompt":[[1,2]],"temperature":0.5,"top_p":1}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_completion_tokens":3}`,
		`{"model":"m","messages":[{"role":"tool","content":"x"}]}`,
		`{"prompt":{"a":1}}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(e *apiError) {
			if e != nil && (e.status < 400 || e.status >= 500 || e.Type == "" || e.Msg == "") {
				t.Fatalf("rejection %+v is not a described 4xx", e)
			}
		}
		w := httptest.NewRecorder()
		var req completionRequest
		r := httptest.NewRequest(http.MethodPost, "/v1/completions", bytes.NewReader(body))
		if e := decode(w, r, &req); e != nil {
			check(e)
			return
		}
		prompt, e := s.completionPrompt(req.Prompt)
		check(e)
		if e == nil {
			_, e = s.prepare(req.requestCommon, prompt)
			check(e)
		}
		var chat chatRequest
		if json.Unmarshal(body, &chat) == nil {
			_, e := chatMessages(chat.Messages)
			check(e)
		}
	})
}
