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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ardanlabs/jinja"
)

// ErrNoChatTemplate is returned, wrapped, by ApplyChatTemplate when neither
// tokenizer_config.json nor chat_template.jinja has a chat template, as for base models that
// take raw text. Match it with errors.Is.
var ErrNoChatTemplate = errors.New("no chat template")

// Message is one turn of a conversation.
type Message struct {
	// Role is "system", "user" or "assistant".
	Role string `json:"role"`
	// Content is the text of the turn.
	Content string `json:"content"`
}

// Config is what tokenizer_config.json says about special tokens. Token fields are empty when
// the file does not set them.
type Config struct {
	// BOSToken is the content of the beginning-of-sequence token (bos_token).
	BOSToken string
	// EOSToken is the content of the end-of-sequence token (eos_token).
	EOSToken string
	// PadToken is the content of the padding token (pad_token).
	PadToken string
	// UnkToken is the content of the unknown token (unk_token).
	UnkToken string
	// AddBOSToken is add_bos_token: whether the caller should prepend BOSToken to encoded raw
	// text. Encode never does it itself; chat templates usually write BOS themselves.
	AddBOSToken bool
	// AddEOSToken is add_eos_token: whether the caller should append EOSToken.
	AddEOSToken bool
}

// chatConfig is the parsed tokenizer_config.json.
type chatConfig struct {
	cfg      Config
	template *jinja.Template
}

type fileTokenizerConfig struct {
	ChatTemplate json.RawMessage `json:"chat_template"`
	BOSToken     json.RawMessage `json:"bos_token"`
	EOSToken     json.RawMessage `json:"eos_token"`
	PadToken     json.RawMessage `json:"pad_token"`
	UnkToken     json.RawMessage `json:"unk_token"`
	AddBOSToken  *bool           `json:"add_bos_token"`
	AddEOSToken  *bool           `json:"add_eos_token"`
}

// namedTemplate is one entry of a chat_template list.
type namedTemplate struct {
	Name     string `json:"name"`
	Template string `json:"template"`
}

func parseChatConfig(data []byte) (chatConfig, error) {
	var c chatConfig
	var f fileTokenizerConfig
	if err := json.Unmarshal(data, &f); err != nil {
		return c, err
	}
	for _, tf := range []struct {
		name string
		raw  json.RawMessage
		dst  *string
	}{
		{"bos_token", f.BOSToken, &c.cfg.BOSToken},
		{"eos_token", f.EOSToken, &c.cfg.EOSToken},
		{"pad_token", f.PadToken, &c.cfg.PadToken},
		{"unk_token", f.UnkToken, &c.cfg.UnkToken},
	} {
		s, err := parseSpecialToken(tf.raw)
		if err != nil {
			return c, fmt.Errorf("%s: %w", tf.name, err)
		}
		*tf.dst = s
	}
	if f.AddBOSToken != nil {
		c.cfg.AddBOSToken = *f.AddBOSToken
	}
	if f.AddEOSToken != nil {
		c.cfg.AddEOSToken = *f.AddEOSToken
	}
	src, err := parseChatTemplateField(f.ChatTemplate)
	if err != nil {
		return c, fmt.Errorf("chat_template: %w", err)
	}
	if src != "" {
		if err := c.setTemplate(src); err != nil {
			return c, fmt.Errorf("chat_template: %w", err)
		}
	}
	return c, nil
}

// parseSpecialToken reads a token written as null, "content" or {"content": "...", ...}.
func parseSpecialToken(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == nil {
		return "", errors.New(`want a string or an object with "content"`)
	}
	return *obj.Content, nil
}

// parseChatTemplateField reads chat_template: a string, or a list of {name, template} from
// which the one named "default" is used, as transformers does.
func parseChatTemplateField(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var list []namedTemplate
	if err := json.Unmarshal(raw, &list); err != nil {
		return "", errors.New(`want a string or a list of {"name", "template"}`)
	}
	for _, nt := range list {
		if nt.Name == "default" {
			return nt.Template, nil
		}
	}
	return "", errors.New(`list has no template named "default"`)
}

// setTemplate compiles src as the chat template.
func (c *chatConfig) setTemplate(src string) (err error) {
	// The template comes from a model repository and the engine is a third-party library; turn a
	// panic in it into an error rather than take the server down.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("compile: panic: %v", r)
		}
	}()
	tmpl, err := jinja.Compile(src)
	if err != nil {
		return err
	}
	c.template = tmpl
	return nil
}

// Config returns the special-token settings of tokenizer_config.json.
func (t *Tokenizer) Config() Config { return t.chat.cfg }

// HasChatTemplate reports whether the tokenizer has a chat template.
func (t *Tokenizer) HasChatTemplate() bool { return t.chat.template != nil }

// ApplyChatTemplate renders messages with the chat template, as transformers'
// apply_chat_template(messages, tokenize=False, add_generation_prompt=...) does. The template
// sees messages, add_generation_prompt and the special tokens that tokenizer_config.json sets
// (bos_token, eos_token, pad_token, unk_token). It fails with an error wrapping
// ErrNoChatTemplate when there is no template.
func (t *Tokenizer) ApplyChatTemplate(messages []Message, addGenerationPrompt bool) (out string, err error) {
	if t.chat.template == nil {
		return "", fmt.Errorf("apply chat template: %w", ErrNoChatTemplate)
	}
	msgs := make([]any, len(messages))
	for i, m := range messages {
		msgs[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	data := map[string]any{
		"messages":              msgs,
		"add_generation_prompt": addGenerationPrompt,
	}
	for name, tok := range map[string]string{
		"bos_token": t.chat.cfg.BOSToken,
		"eos_token": t.chat.cfg.EOSToken,
		"pad_token": t.chat.cfg.PadToken,
		"unk_token": t.chat.cfg.UnkToken,
	} {
		if tok != "" {
			data[name] = tok
		}
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("apply chat template: panic: %v", r)
		}
	}()
	out, err = t.chat.template.Render(data)
	if err != nil {
		return "", fmt.Errorf("apply chat template: %w", err)
	}
	return out, nil
}
