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
	"fmt"
	"net/http"
)

// The OpenAI request and response bodies the server speaks (the subset it implements).

// requestCommon are the body fields completions and chat completions share.
type requestCommon struct {
	Model       string          `json:"model"`
	MaxTokens   *int            `json:"max_tokens"`
	Temperature *float64        `json:"temperature"`
	TopP        *float64        `json:"top_p"`
	Seed        *int64          `json:"seed"`
	N           *int            `json:"n"`
	Stop        json.RawMessage `json:"stop"`
	Stream      bool            `json:"stream"`
	DLLM        *extension      `json:"dllm"`
}

// completionRequest is a POST /v1/completions body.
type completionRequest struct {
	requestCommon
	Prompt json.RawMessage `json:"prompt"`
}

// chatRequest is a POST /v1/chat/completions body.
type chatRequest struct {
	requestCommon
	Messages []chatMessage `json:"messages"`
	// MaxCompletionTokens replaces max_tokens in newer clients.
	MaxCompletionTokens *int `json:"max_completion_tokens"`
}

// chatMessage is one message; content is a string or an array of text parts.
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// extension holds the dLLM settings a request may set, in the "dllm" object.
type extension struct {
	Steps       *int       `json:"steps"`
	BlockLength *int       `json:"block_length"`
	Remasking   *string    `json:"remasking"`
	Algorithm   *string    `json:"algorithm"`
	Threshold   *float64   `json:"parallel_threshold"`
	Cache       *cacheJSON `json:"cache"`
}

// cacheJSON overrides the cache settings for one request, within the server's bounds.
type cacheJSON struct {
	Enabled                 *bool    `json:"enabled"`
	PromptRefreshInterval   *int     `json:"prompt_refresh_interval"`
	ResponseRefreshInterval *int     `json:"response_refresh_interval"`
	TransferRatio           *float64 `json:"transfer_ratio"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type completionChoice struct {
	Index        int     `json:"index"`
	Text         string  `json:"text"`
	FinishReason *string `json:"finish_reason"`
	Logprobs     any     `json:"logprobs"`
}

type completionResponse struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   *usage             `json:"usage,omitempty"`
}

type chatDelta struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content"`
}

type chatChoice struct {
	Index        int        `json:"index"`
	Message      *chatDelta `json:"message,omitempty"`
	Delta        *chatDelta `json:"delta,omitempty"`
	FinishReason *string    `json:"finish_reason"`
	Logprobs     any        `json:"logprobs"`
}

type chatResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *usage       `json:"usage,omitempty"`
}

type modelEntry struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// apiError is an OpenAI-style error with its HTTP status.
type apiError struct {
	status int
	Msg    string  `json:"message"`
	Type   string  `json:"type"`
	Param  *string `json:"param"`
	Code   *string `json:"code"`
}

func (e *apiError) Error() string { return e.Msg }

// Error types and the assistant role of the OpenAI API.
const (
	typeInvalid   = "invalid_request_error"
	typeServer    = "server_error"
	roleAssistant = "assistant"
)

// badRequest is a 400 naming the offending field.
func badRequest(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...), Type: typeInvalid, Param: new(param)}
}

// writeError writes e as {"error": {...}}.
func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]*apiError{"error": e})
}

// writeJSON writes v with status 200.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
