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

package tokenizer

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// lladaTemplate is chat_template of GSAI-ML/LLaDA-8B-Instruct's tokenizer_config.json. It always
// ends with the assistant header and puts BOS before the first message only.
const lladaTemplate = `{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}`

// qwenTemplate is the non-tools part of the Qwen2.5 ChatML template as Dream 7B ships it, with
// the default system message "You are a helpful assistant." The tools branch is reduced to an
// exception; the test checks that an undefined tools is false.
const qwenTemplate = `{%- if tools %}
    {{- raise_exception('tools are not part of this test') }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
`

// lladaConfig mirrors the relevant part of LLaDA-8B-Instruct's tokenizer_config.json.
func lladaConfig() map[string]any {
	return map[string]any{
		"add_bos_token": false,
		"add_eos_token": false,
		"bos_token":     "<|startoftext|>",
		"eos_token":     "<|eot_id|>",
		"pad_token":     "<|endoftext|>",
		"chat_template": lladaTemplate,
	}
}

// dreamConfig mirrors Dream-v0-Instruct-7B's tokenizer_config.json, with chat_template in the
// list form to test choosing "default", and bos_token in the object form.
func dreamConfig() map[string]any {
	return map[string]any{
		"add_bos_token": false,
		"bos_token":     map[string]any{"__type": "AddedToken", "content": "<|endoftext|>", "special": true},
		"eos_token":     "<|endoftext|>",
		"chat_template": []any{
			map[string]any{"name": "tool_use", "template": "{{ raise_exception('wrong template') }}"},
			map[string]any{"name": "default", "template": qwenTemplate},
		},
	}
}

func parseWithConfig(t *testing.T, cfg map[string]any) *Tokenizer {
	t.Helper()
	tok, err := Parse(mustJSON(t, testDoc()), mustJSON(t, cfg))
	if err != nil {
		t.Fatalf("Parse() error: %v", err)
	}
	return tok
}

func TestApplyChatTemplate(t *testing.T) {
	const (
		hdr  = "<|start_header_id|>"
		end  = "<|end_header_id|>\n\n"
		eot  = "<|eot_id|>"
		asst = "<|start_header_id|>assistant<|end_header_id|>\n\n"
		sys  = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
	)
	user := func(s string) Message { return Message{Role: "user", Content: s} }
	tests := []struct {
		name      string
		cfg       map[string]any
		messages  []Message
		genPrompt bool
		want      string
	}{
		{
			name: "llada one turn", cfg: lladaConfig(), messages: []Message{user("Hi")}, genPrompt: true,
			want: "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
		},
		{
			// The template trims content and appends the assistant header whatever
			// add_generation_prompt says.
			name: "llada trims and always prompts", cfg: lladaConfig(), messages: []Message{user("  Hi \n")},
			want: "<|startoftext|>" + hdr + "user" + end + "Hi" + eot + asst,
		},
		{
			name: "llada multi turn", cfg: lladaConfig(), genPrompt: true,
			messages: []Message{
				{Role: "system", Content: "Be brief."}, user("2+2?"),
				{Role: "assistant", Content: "4"}, user("And 3+3?"),
			},
			want: "<|startoftext|>" + hdr + "system" + end + "Be brief." + eot +
				hdr + "user" + end + "2+2?" + eot + hdr + "assistant" + end + "4" + eot +
				hdr + "user" + end + "And 3+3?" + eot + asst,
		},
		{
			name: "dream default system", cfg: dreamConfig(), messages: []Message{user("Hi")}, genPrompt: true,
			want: sys + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
		},
		{
			name: "dream no generation prompt", cfg: dreamConfig(), messages: []Message{user("Hi")},
			want: sys + "<|im_start|>user\nHi<|im_end|>\n",
		},
		{
			name: "dream own system", cfg: dreamConfig(), genPrompt: true,
			messages: []Message{{Role: "system", Content: "Be brief."}, user(" Hi ")},
			want:     "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi <|im_end|>\n<|im_start|>assistant\n",
		},
		{
			name: "dream multi turn", cfg: dreamConfig(), genPrompt: true,
			messages: []Message{user("2+2?"), {Role: "assistant", Content: "4"}, user("And 3+3?")},
			want: sys + "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n" +
				"<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := parseWithConfig(t, tc.cfg)
			got, err := tok.ApplyChatTemplate(tc.messages, tc.genPrompt)
			if err != nil {
				t.Fatalf("ApplyChatTemplate() error: %v", err)
			}
			if got != tc.want {
				t.Errorf("ApplyChatTemplate(%v, %v) =\n%q\nwant\n%q", tc.messages, tc.genPrompt, got, tc.want)
			}
		})
	}
}

// TestChatEncode checks that a rendered LLaDA prompt encodes to single ids for its special
// tokens; the rest are unmerged bytes except "\n\n" (merge 10).
func TestChatEncode(t *testing.T) {
	tok := parseWithConfig(t, lladaConfig())
	prompt, err := tok.ApplyChatTemplate([]Message{{Role: "user", Content: "Hi"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tok.Encode(prompt)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{
		idStartOfText, idStartHeader, 'u', 's', 'e', 'r', idEndHeader, idNlNl, 'H', 'i', idEOT,
		idStartHeader, 'a', 's', 's', 'i', 's', 't', 'a', 'n', 't', idEndHeader, idNlNl,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Encode(%q) (-want +got):\n%s", prompt, diff)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  map[string]any
		want Config
	}{
		{
			name: "llada", cfg: lladaConfig(),
			want: Config{BOSToken: "<|startoftext|>", EOSToken: "<|eot_id|>", PadToken: "<|endoftext|>"},
		},
		{name: "object tokens", cfg: dreamConfig(), want: Config{BOSToken: "<|endoftext|>", EOSToken: "<|endoftext|>"}},
		{
			name: "flags and nulls", cfg: map[string]any{"add_bos_token": true, "add_eos_token": true, "bos_token": nil, "unk_token": "<unk>"},
			want: Config{AddBOSToken: true, AddEOSToken: true, UnkToken: "<unk>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseWithConfig(t, tc.cfg).Config()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Config() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChatTemplateErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		wantErr string
	}{
		{name: "not json", cfg: `{`, wantErr: "tokenizer_config.json: "},
		{name: "bos number", cfg: `{"bos_token": 5}`, wantErr: "tokenizer_config.json: bos_token: want"},
		{name: "eos object without content", cfg: `{"eos_token": {"special": true}}`, wantErr: "tokenizer_config.json: eos_token: want"},
		{name: "template number", cfg: `{"chat_template": 5}`, wantErr: "tokenizer_config.json: chat_template: want"},
		{name: "no default", cfg: `{"chat_template": [{"name": "tool_use", "template": "x"}]}`, wantErr: `chat_template: list has no template named "default"`},
		{name: "syntax", cfg: `{"chat_template": "{% for %}"}`, wantErr: "tokenizer_config.json: chat_template: "},
	}
	tj := mustJSON(t, testDoc())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tj, []byte(tc.cfg))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse() error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestNoChatTemplate(t *testing.T) {
	tok := newTestTokenizer(t)
	_, err := tok.ApplyChatTemplate([]Message{{Role: "user", Content: "Hi"}}, true)
	if !errors.Is(err, ErrNoChatTemplate) {
		t.Errorf("ApplyChatTemplate() error = %v, want ErrNoChatTemplate", err)
	}
}

func TestRenderError(t *testing.T) {
	tok := parseWithConfig(t, map[string]any{"chat_template": "{{ raise_exception('no system role') }}"})
	if _, err := tok.ApplyChatTemplate(nil, true); err == nil || !strings.Contains(err.Error(), "no system role") {
		t.Errorf("ApplyChatTemplate() error = %v, want the template's exception", err)
	}
}

func TestLoadChatTemplateFile(t *testing.T) {
	cfg := lladaConfig()
	delete(cfg, "chat_template")
	dir := writeDir(t, map[string][]byte{
		TokenizerFile:    mustJSON(t, testDoc()),
		ConfigFile:       mustJSON(t, cfg),
		ChatTemplateFile: []byte(lladaTemplate),
	})
	tok, err := Load(dir)
	if err != nil {
		t.Fatalf("Load() error: %v", err)
	}
	got, err := tok.ApplyChatTemplate([]Message{{Role: "user", Content: "Hi"}}, true)
	want := "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
	if err != nil || got != want {
		t.Errorf("ApplyChatTemplate() = %q, %v, want %q", got, err, want)
	}
}

// TestMessageJSON checks that Message uses the OpenAI field names.
func TestMessageJSON(t *testing.T) {
	var got []Message
	if err := json.Unmarshal([]byte(`[{"role":"user","content":"Hi"}]`), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Message{{Role: "user", Content: "Hi"}}, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("json.Unmarshal (-want +got):\n%s", diff)
	}
}
