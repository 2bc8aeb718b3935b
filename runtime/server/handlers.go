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
	"encoding/json"
	"net/http"
	"strings"

	"dllm.dev/dllm-operator/runtime/tokenizer"
)

// completions serves POST /v1/completions.
func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	prompt, err := s.completionPrompt(req.Prompt)
	if err != nil {
		writeError(w, err)
		return
	}
	j, err := s.prepare(req.requestCommon, prompt)
	if err != nil {
		writeError(w, err)
		return
	}
	id, created := newID("cmpl-"), now()
	if req.Stream {
		s.stream(w, r, j, func(i int, text string, finish *string) any {
			return completionResponse{ID: id, Object: "text_completion", Created: created, Model: s.o.Model,
				Choices: []completionChoice{{Index: i, Text: text, FinishReason: finish}}}
		})
		return
	}
	choices, err := s.generate(r.Context(), j, nil)
	if err != nil {
		writeError(w, err)
		return
	}
	resp := completionResponse{ID: id, Object: "text_completion", Created: created, Model: s.o.Model,
		Usage: s.usage(j, choices)}
	for i, c := range choices {
		resp.Choices = append(resp.Choices, completionChoice{Index: i, Text: c.text, FinishReason: new(c.finish)})
	}
	writeJSON(w, resp)
}

// completionPrompt reads prompt: a string, token ids, or a one-element array of either.
func (s *Server) completionPrompt(raw json.RawMessage) ([]int, *apiError) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return s.encode(text, "prompt")
	}
	var ids []int
	if json.Unmarshal(raw, &ids) == nil && len(ids) > 0 {
		for _, id := range ids {
			if id < 0 || id >= s.o.Config.Vocab {
				return nil, badRequest("prompt", "prompt token %d is outside the vocabulary of %d", id, s.o.Config.Vocab)
			}
		}
		return ids, nil
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil && len(texts) == 1 {
		return s.encode(texts[0], "prompt")
	}
	var batches [][]int
	if json.Unmarshal(raw, &batches) == nil && len(batches) == 1 {
		b, _ := json.Marshal(batches[0])
		return s.completionPrompt(b)
	}
	return nil, badRequest("prompt", "prompt must be a string or an array of token ids (one prompt per request)")
}

// encode tokenizes text for field param.
func (s *Server) encode(text, param string) ([]int, *apiError) {
	ids, err := s.o.Tokenizer.Encode(text)
	if err != nil {
		return nil, badRequest(param, "cannot tokenize %s: %v", param, err)
	}
	if len(ids) == 0 {
		return nil, badRequest(param, "%s is empty", param)
	}
	return ids, nil
}

// chat serves POST /v1/chat/completions.
func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	msgs, err := chatMessages(req.Messages)
	if err != nil {
		writeError(w, err)
		return
	}
	text, tmplErr := s.o.Tokenizer.ApplyChatTemplate(msgs, true)
	if tmplErr != nil {
		writeError(w, badRequest("messages", "cannot apply the chat template: %v", tmplErr))
		return
	}
	prompt, err := s.encode(text, "messages")
	if err != nil {
		writeError(w, err)
		return
	}
	if req.MaxCompletionTokens != nil {
		req.MaxTokens = req.MaxCompletionTokens
	}
	j, err := s.prepare(req.requestCommon, prompt)
	if err != nil {
		writeError(w, err)
		return
	}
	id, created := newID("chatcmpl-"), now()
	if req.Stream {
		started := map[int]bool{} // chunk calls are serial (see stream)
		s.stream(w, r, j, func(i int, text string, finish *string) any {
			d := &chatDelta{Content: text}
			if !started[i] {
				d.Role, started[i] = roleAssistant, true
			}
			return chatResponse{ID: id, Object: "chat.completion.chunk", Created: created, Model: s.o.Model,
				Choices: []chatChoice{{Index: i, Delta: d, FinishReason: finish}}}
		})
		return
	}
	choices, err := s.generate(r.Context(), j, nil)
	if err != nil {
		writeError(w, err)
		return
	}
	resp := chatResponse{ID: id, Object: "chat.completion", Created: created, Model: s.o.Model, Usage: s.usage(j, choices)}
	for i, c := range choices {
		resp.Choices = append(resp.Choices, chatChoice{Index: i, Message: &chatDelta{Role: roleAssistant, Content: c.text}, FinishReason: new(c.finish)})
	}
	writeJSON(w, resp)
}

// chatMessages validates the messages: roles system, user or assistant, text content.
func chatMessages(in []chatMessage) ([]tokenizer.Message, *apiError) {
	if len(in) == 0 {
		return nil, badRequest("messages", "messages must not be empty")
	}
	out := make([]tokenizer.Message, len(in))
	for i, m := range in {
		switch m.Role {
		case "system", "user", "assistant", "developer":
		default:
			return nil, badRequest("messages", "message %d has role %q; want system, user or assistant", i, m.Role)
		}
		role := m.Role
		if role == "developer" {
			role = "system"
		}
		var text string
		if json.Unmarshal(m.Content, &text) != nil {
			var parts []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			}
			if err := json.Unmarshal(m.Content, &parts); err != nil {
				return nil, badRequest("messages", "message %d content must be a string or text parts", i)
			}
			var b strings.Builder
			for _, p := range parts {
				if p.Type != "text" {
					return nil, badRequest("messages", "message %d has a %q part; only text is supported", i, p.Type)
				}
				b.WriteString(p.Text)
			}
			text = b.String()
		}
		out[i] = tokenizer.Message{Role: role, Content: text}
	}
	return out, nil
}

// usage counts the prompt once per choice, as OpenAI does.
func (s *Server) usage(j *job, choices []choice) *usage {
	u := &usage{PromptTokens: len(j.prompt)}
	for _, c := range choices {
		u.CompletionTokens += c.tokens
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// stream runs j and writes its choices as server-sent events: a chunk (from chunk) whenever
// tokens are committed, a final chunk per choice with its finish reason, then [DONE]. An error
// before the first chunk is an ordinary error response; after it, an error event.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, j *job, chunk func(i int, text string, finish *string) any) {
	var ev *sse
	open := func() {
		if ev == nil {
			ev = newSSE(w)
		}
	}
	// generate calls the callback serially and not after it returns, so chunk and ev need no
	// lock of their own.
	choices, err := s.generate(r.Context(), j, func(i int, text string) {
		open()
		ev.send(chunk(i, text, nil))
	})
	if err != nil {
		if ev == nil {
			writeError(w, err)
			return
		}
		ev.send(map[string]*apiError{"error": err})
		return
	}
	open()
	for i, c := range choices {
		ev.send(chunk(i, "", new(c.finish)))
	}
	ev.done()
}
