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
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

const (
	// TokenizerFile is the name of the tokenizer file that Load reads.
	TokenizerFile = "tokenizer.json"
	// ConfigFile is the name of the optional tokenizer configuration that Load reads.
	ConfigFile = "tokenizer_config.json"
	// ChatTemplateFile is the name of the optional chat template file that newer checkpoints ship
	// next to tokenizer_config.json; Load uses it when the config has no chat_template.
	ChatTemplateFile = "chat_template.jinja"

	// maxTokenID bounds token ids so that a corrupt file cannot make the tokenizer allocate
	// without bound; real vocabularies are below 2^18.
	maxTokenID = 1 << 24

	typeSequence  = "Sequence"
	typeByteLevel = "ByteLevel"
)

// ErrUnknownID is returned, wrapped, by Decode for an id that is neither in the vocabulary nor
// an added token. Match it with errors.Is.
var ErrUnknownID = errors.New("unknown token id")

// Tokenizer is a loaded byte-level BPE tokenizer with its chat template. It is safe for
// concurrent use.
type Tokenizer struct {
	vocab        map[string]int
	tokens       map[int]string // id -> byte-level token, for the model vocabulary
	merges       map[uint64]merge
	byteIDs      [256]int // id of the single-byte token of each byte; -1 if absent
	unkID        int      // -1 without an unk_token
	fuseUnk      bool
	ignoreMerges bool

	added        map[int]addedToken
	addedContent map[string]int
	addedByByte  [256][]addedToken // by first byte of content, longest first

	nfc         bool
	steps       []preStep // Split steps, in order, before the ByteLevel step
	prefixSpace bool      // ByteLevel add_prefix_space
	byteRegex   *splitRegex

	vocabSize int
	cache     wordCache
	chat      chatConfig
}

// addedToken is one entry of added_tokens.
type addedToken struct {
	id         int
	content    string
	special    bool
	singleWord bool
	lstrip     bool
	rstrip     bool
}

// Load reads dir/tokenizer.json and, when present, dir/tokenizer_config.json and
// dir/chat_template.jinja.
func Load(dir string) (*Tokenizer, error) {
	tj, err := os.ReadFile(filepath.Join(dir, TokenizerFile))
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: %w", dir, err)
	}
	cj, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load tokenizer %q: %w", dir, err)
	}
	t, err := Parse(tj, cj)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %q: %w", dir, err)
	}
	if t.chat.template == nil {
		src, err := os.ReadFile(filepath.Join(dir, ChatTemplateFile))
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("load tokenizer %q: %w", dir, err)
		default:
			if err := t.chat.setTemplate(string(src)); err != nil {
				return nil, fmt.Errorf("load tokenizer %q: %s: %w", dir, ChatTemplateFile, err)
			}
		}
	}
	return t, nil
}

// Parse builds a Tokenizer from the contents of tokenizer.json and tokenizer_config.json; the
// latter may be nil or empty when there is none. Errors name the file and the field.
func Parse(tokenizerJSON, configJSON []byte) (*Tokenizer, error) {
	t, err := parseTokenizer(tokenizerJSON)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", TokenizerFile, err)
	}
	if len(bytes.TrimSpace(configJSON)) > 0 {
		if t.chat, err = parseChatConfig(configJSON); err != nil {
			return nil, fmt.Errorf("%s: %w", ConfigFile, err)
		}
	}
	return t, nil
}

// fileTokenizer is the part of tokenizer.json that this package reads.
type fileTokenizer struct {
	AddedTokens  []fileAddedToken `json:"added_tokens"`
	Normalizer   json.RawMessage  `json:"normalizer"`
	PreTokenizer json.RawMessage  `json:"pre_tokenizer"`
	Decoder      json.RawMessage  `json:"decoder"`
	Model        json.RawMessage  `json:"model"`
}

type fileAddedToken struct {
	ID         *int   `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type fileModel struct {
	Type                    string            `json:"type"`
	Vocab                   map[string]int    `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
	UnkToken                *string           `json:"unk_token"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	Dropout                 *float64          `json:"dropout"`
	FuseUnk                 bool              `json:"fuse_unk"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
}

// fileComponent holds the fields of the normalizer, pre_tokenizer and decoder types read here.
type fileComponent struct {
	Type          string            `json:"type"`
	Normalizers   []json.RawMessage `json:"normalizers"`
	PreTokenizers []json.RawMessage `json:"pretokenizers"`
	Decoders      []json.RawMessage `json:"decoders"`
	Pattern       *struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Behavior       string `json:"behavior"`
	Invert         bool   `json:"invert"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	UseRegex       *bool  `json:"use_regex"`
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func parseComponent(raw json.RawMessage) (fileComponent, error) {
	var c fileComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, err
	}
	return c, nil
}

func parseTokenizer(data []byte) (*Tokenizer, error) {
	var f fileTokenizer
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	t := &Tokenizer{unkID: -1}
	if err := t.parseModel(f.Model); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if err := t.parseAdded(f.AddedTokens); err != nil {
		return nil, err
	}
	if err := t.parseNormalizer(f.Normalizer); err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	if err := t.parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	if err := parseDecoder(f.Decoder); err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	return t, nil
}

func (t *Tokenizer) parseModel(raw json.RawMessage) error {
	if isNull(raw) {
		return errors.New("missing")
	}
	var m fileModel
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	if err := checkModelOptions(m); err != nil {
		return err
	}
	t.vocab = m.Vocab
	t.tokens = make(map[int]string, len(m.Vocab))
	for tok, id := range m.Vocab {
		if id < 0 || id >= maxTokenID {
			return fmt.Errorf("vocab[%q]: id %d out of range [0, %d)", tok, id, maxTokenID)
		}
		if other, dup := t.tokens[id]; dup {
			// Report the pair in a stable order whatever the map order.
			a, b := min(other, tok), max(other, tok)
			return fmt.Errorf("vocab[%q]: id %d already used by %q", b, id, a)
		}
		t.tokens[id] = tok
		t.vocabSize = max(t.vocabSize, id+1)
	}
	for b := range 256 {
		id, ok := m.Vocab[string(byteRunes[b])]
		if !ok {
			id = -1
		}
		t.byteIDs[b] = id
	}
	if err := t.parseMerges(m.Merges); err != nil {
		return err
	}
	if m.UnkToken != nil {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return fmt.Errorf("unk_token: %q not in vocab", *m.UnkToken)
		}
		t.unkID = id
	}
	t.fuseUnk = m.FuseUnk
	t.ignoreMerges = m.IgnoreMerges
	return nil
}

// checkModelOptions refuses the BPE options that byte-level tokenizers do not use.
func checkModelOptions(m fileModel) error {
	switch {
	case m.Type != "BPE" && m.Type != "":
		return fmt.Errorf("type: %q is not supported, want \"BPE\"", m.Type)
	case len(m.Vocab) == 0:
		return errors.New("vocab: empty")
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return errors.New("continuing_subword_prefix: not supported by byte-level BPE")
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return errors.New("end_of_word_suffix: not supported by byte-level BPE")
	case m.Dropout != nil && *m.Dropout != 0:
		return errors.New("dropout: not supported, inference must be deterministic")
	case m.ByteFallback:
		return errors.New("byte_fallback: not supported by byte-level BPE")
	}
	return nil
}

// parseMerges fills t.merges; t.vocab must be set.
func (t *Tokenizer) parseMerges(list []json.RawMessage) error {
	t.merges = make(map[uint64]merge, len(list))
	for i, raw := range list {
		left, right, err := parseMerge(raw)
		if err != nil {
			return fmt.Errorf("merges[%d]: %w", i, err)
		}
		lid, lok := t.vocab[left]
		rid, rok := t.vocab[right]
		id, ok := t.vocab[left+right]
		switch {
		case !lok:
			return fmt.Errorf("merges[%d]: token %q not in vocab", i, left)
		case !rok:
			return fmt.Errorf("merges[%d]: token %q not in vocab", i, right)
		case !ok:
			return fmt.Errorf("merges[%d]: merged token %q not in vocab", i, left+right)
		}
		// As in the Python library, a repeated pair takes the rank of its last occurrence.
		t.merges[pairKey(lid, rid)] = merge{rank: i, id: id}
	}
	return nil
}

// parseMerge reads one merge, written either as "left right" or as ["left", "right"].
func parseMerge(raw json.RawMessage) (left, right string, err error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		parts := strings.Split(s, " ")
		if len(parts) != 2 {
			return "", "", fmt.Errorf("%q is not two tokens separated by one space", s)
		}
		return parts[0], parts[1], nil
	}
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil {
		return "", "", errors.New("want a string \"a b\" or a pair [\"a\", \"b\"]")
	}
	if len(pair) != 2 {
		return "", "", fmt.Errorf("pair has %d elements, want 2", len(pair))
	}
	return pair[0], pair[1], nil
}

func (t *Tokenizer) parseAdded(list []fileAddedToken) error {
	t.added = make(map[int]addedToken, len(list))
	t.addedContent = make(map[string]int, len(list))
	for i, a := range list {
		switch {
		case a.ID == nil:
			return fmt.Errorf("added_tokens[%d]: id: missing", i)
		case *a.ID < 0 || *a.ID >= maxTokenID:
			return fmt.Errorf("added_tokens[%d]: id: %d out of range [0, %d)", i, *a.ID, maxTokenID)
		case a.Content == "":
			return fmt.Errorf("added_tokens[%d]: content: empty", i)
		}
		if other, dup := t.added[*a.ID]; dup && other.content != a.Content {
			return fmt.Errorf("added_tokens[%d]: id: %d already used by %q", i, *a.ID, other.content)
		}
		at := addedToken{
			id: *a.ID, content: a.Content, special: a.Special,
			singleWord: a.SingleWord, lstrip: a.LStrip, rstrip: a.RStrip,
		}
		t.added[at.id] = at
		t.addedContent[at.content] = at.id
		t.vocabSize = max(t.vocabSize, at.id+1)
	}
	for _, at := range t.added {
		b := at.content[0]
		t.addedByByte[b] = append(t.addedByByte[b], at)
	}
	for b := range t.addedByByte {
		// Longest first, so the first hit is the longest match; content breaks ties stably.
		slices.SortFunc(t.addedByByte[b], func(x, y addedToken) int {
			if len(x.content) != len(y.content) {
				return len(y.content) - len(x.content)
			}
			return strings.Compare(x.content, y.content)
		})
	}
	return nil
}

func (t *Tokenizer) parseNormalizer(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	c, err := parseComponent(raw)
	if err != nil {
		return err
	}
	list := []fileComponent{c}
	if c.Type == typeSequence {
		list = list[:0]
		for i, r := range c.Normalizers {
			n, err := parseComponent(r)
			if err != nil {
				return fmt.Errorf("normalizers[%d]: %w", i, err)
			}
			list = append(list, n)
		}
	}
	for _, n := range list {
		if n.Type != "NFC" {
			return fmt.Errorf("type: %q is not supported, want null or \"NFC\"", n.Type)
		}
		t.nfc = true
	}
	return nil
}

func (t *Tokenizer) parsePreTokenizer(raw json.RawMessage) error {
	if isNull(raw) {
		return errors.New("null, byte-level BPE needs a ByteLevel pre-tokenizer")
	}
	c, err := parseComponent(raw)
	if err != nil {
		return err
	}
	list := []fileComponent{c}
	field := ""
	if c.Type == typeSequence {
		field = "pretokenizers"
		list = list[:0]
		for i, r := range c.PreTokenizers {
			p, err := parseComponent(r)
			if err != nil {
				return fmt.Errorf("pretokenizers[%d]: %w", i, err)
			}
			list = append(list, p)
		}
	}
	for i, p := range list {
		if field != "" {
			field = fmt.Sprintf("pretokenizers[%d]: ", i)
		}
		last := i == len(list)-1
		switch p.Type {
		case typeByteLevel:
			if !last {
				return fmt.Errorf("%sByteLevel must be the last step", field)
			}
			t.prefixSpace = p.AddPrefixSpace
			if p.UseRegex == nil || *p.UseRegex {
				if t.byteRegex, err = compileSplitRegex(gpt2Pattern); err != nil {
					return fmt.Errorf("%sByteLevel: %w", field, err)
				}
			}
		case "Split":
			step, err := parseSplit(p)
			if err != nil {
				return fmt.Errorf("%sSplit: %w", field, err)
			}
			if last {
				return fmt.Errorf("%sthe last step must be ByteLevel", field)
			}
			t.steps = append(t.steps, step)
		default:
			return fmt.Errorf("%stype: %q is not supported, want \"ByteLevel\" or \"Split\"", field, p.Type)
		}
	}
	if len(list) == 0 {
		return errors.New("pretokenizers: empty, want a ByteLevel step")
	}
	return nil
}

func parseSplit(p fileComponent) (preStep, error) {
	var step preStep
	if p.Invert {
		return step, errors.New("invert: true is not supported")
	}
	switch p.Behavior {
	case "Isolated":
		step.behavior = splitIsolated
	case "Removed":
		step.behavior = splitRemoved
	case "MergedWithPrevious":
		step.behavior = splitMergedWithPrevious
	case "MergedWithNext":
		step.behavior = splitMergedWithNext
	default:
		return step, fmt.Errorf("behavior: %q is not supported", p.Behavior)
	}
	var err error
	switch {
	case p.Pattern == nil:
		return step, errors.New("pattern: missing")
	case p.Pattern.Regex != nil:
		step.re, err = compileSplitRegex(*p.Pattern.Regex)
	case p.Pattern.String != nil && *p.Pattern.String != "":
		step.re, err = compileSplitRegex(regexpQuote(*p.Pattern.String))
	default:
		return step, errors.New("pattern: want {\"Regex\": ...} or a non-empty {\"String\": ...}")
	}
	if err != nil {
		return step, fmt.Errorf("pattern: %w", err)
	}
	return step, nil
}

// regexpQuote escapes s for compileSplitRegex; like regexp.QuoteMeta, but the escapes it
// produces are all ones that compileSplitRegex copies through.
func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func parseDecoder(raw json.RawMessage) error {
	if isNull(raw) {
		return errors.New("null, byte-level BPE needs the ByteLevel decoder")
	}
	c, err := parseComponent(raw)
	if err != nil {
		return err
	}
	if c.Type == typeSequence && len(c.Decoders) == 1 {
		if c, err = parseComponent(c.Decoders[0]); err != nil {
			return fmt.Errorf("decoders[0]: %w", err)
		}
	}
	if c.Type != typeByteLevel {
		return fmt.Errorf("type: %q is not supported, want \"ByteLevel\"", c.Type)
	}
	return nil
}

// VocabSize returns one more than the largest token id of the vocabulary and the added tokens.
// It can be smaller than the vocab_size of the model's config.json, whose embedding table is
// often padded.
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// TokenID returns the id of the added token with this content, or else of the vocabulary entry
// spelled content in its byte-level form (a leading space is "Ġ"), and whether there is one.
func (t *Tokenizer) TokenID(content string) (int, bool) {
	if id, ok := t.addedContent[content]; ok {
		return id, true
	}
	id, ok := t.vocab[content]
	return id, ok
}

// Token returns the content of an added token or the byte-level form of a vocabulary entry,
// and whether id is known.
func (t *Tokenizer) Token(id int) (string, bool) {
	if a, ok := t.added[id]; ok {
		return a.content, true
	}
	tok, ok := t.tokens[id]
	return tok, ok
}

// Encode returns the token ids of text. Added tokens in the text, special or not, become their
// single id. Encode adds no BOS or EOS. It fails only when a byte has no token in the vocabulary
// and the model has no unk_token.
func (t *Tokenizer) Encode(text string) ([]int, error) {
	var ids []int
	var err error
	t.splitAdded(text, func(seg string, addedID int) {
		if err != nil {
			return
		}
		if addedID >= 0 {
			ids = append(ids, addedID)
			return
		}
		ids, err = t.encodeText(ids, seg)
	})
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return ids, nil
}

// splitAdded calls fn for each segment of text in order: fn(seg, -1) for text between added
// tokens and fn("", id) for an added token, matched leftmost first, then longest.
func (t *Tokenizer) splitAdded(text string, fn func(seg string, addedID int)) {
	segStart := 0
	for i := 0; i < len(text); {
		at, ok := t.addedAt(text, i)
		if !ok {
			i++
			continue
		}
		start, end := i, i+len(at.content)
		if at.lstrip {
			for start > segStart {
				r, size := utf8.DecodeLastRuneInString(text[segStart:start])
				if !isSpace(r) {
					break
				}
				start -= size
			}
		}
		if at.rstrip {
			for end < len(text) {
				r, size := utf8.DecodeRuneInString(text[end:])
				if !isSpace(r) {
					break
				}
				end += size
			}
		}
		if start > segStart {
			fn(text[segStart:start], -1)
		}
		fn("", at.id)
		segStart, i = end, end
	}
	if segStart < len(text) {
		fn(text[segStart:], -1)
	}
}

// addedAt returns the longest added token that matches text at i.
func (t *Tokenizer) addedAt(text string, i int) (addedToken, bool) {
	for _, at := range t.addedByByte[text[i]] {
		if !strings.HasPrefix(text[i:], at.content) {
			continue
		}
		if at.singleWord && (isWordBefore(text, i) || isWordAfter(text, i+len(at.content))) {
			continue
		}
		return at, true
	}
	return addedToken{}, false
}

// isWordRune is the Python library's test for single_word: Rust's char::is_alphanumeric or '_'.
func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

func isWordBefore(text string, i int) bool {
	if i == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	return isWordRune(r)
}

func isWordAfter(text string, i int) bool {
	if i >= len(text) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(text[i:])
	return isWordRune(r)
}

// encodeText appends the ids of text that contains no added token.
func (t *Tokenizer) encodeText(ids []int, text string) ([]int, error) {
	if t.nfc {
		text = norm.NFC.String(text)
	}
	pieces := []string{text}
	for _, step := range t.steps {
		var next []string
		for _, p := range pieces {
			next = step.split(next, p)
		}
		pieces = next
	}
	for _, p := range pieces {
		if t.prefixSpace && !strings.HasPrefix(p, " ") {
			p = " " + p
		}
		words := []string{p}
		if t.byteRegex != nil {
			words = preStep{re: t.byteRegex}.split(nil, p)
		}
		for _, w := range words {
			var err error
			if ids, err = t.encodeWord(ids, w); err != nil {
				return nil, err
			}
		}
	}
	return ids, nil
}

// encodeWord appends the ids of one pre-token, given as raw bytes.
func (t *Tokenizer) encodeWord(ids []int, word string) ([]int, error) {
	if cached, ok := t.cache.get(word); ok {
		return append(ids, cached...), nil
	}
	if t.ignoreMerges {
		if id, ok := t.vocab[byteLevel(word)]; ok {
			return append(ids, id), nil
		}
	}
	syms := make([]int, 0, len(word))
	for i := range len(word) {
		id := t.byteIDs[word[i]]
		switch {
		case id >= 0:
		case t.unkID < 0:
			return nil, fmt.Errorf("byte 0x%02x has no token %q in the vocab and there is no unk_token", word[i], byteRunes[word[i]])
		case t.fuseUnk && len(syms) > 0 && syms[len(syms)-1] == t.unkID:
			continue
		default:
			id = t.unkID
		}
		syms = append(syms, id)
	}
	syms = mergeWord(syms, t.merges)
	t.cache.put(word, syms)
	return append(ids, syms...), nil
}

// DecodeKnown is Decode with special tokens skipped and ids the tokenizer does not know left
// out: a model's embedding table may have rows past the tokenizer (padding to a round size),
// and a sampler can emit them.
func (t *Tokenizer) DecodeKnown(ids []int) (string, error) {
	known := make([]int, 0, len(ids))
	for _, id := range ids {
		if _, ok := t.Token(id); ok {
			known = append(known, id)
		}
	}
	return t.Decode(known, true)
}

// Decode returns the text of ids. Added tokens are written as their content, or left out when
// skipSpecial is set and they are special. The result holds the decoded bytes as they are, even
// when they are not valid UTF-8 (a sequence may end inside a multi-byte character). An id that
// is not known fails with an error that wraps ErrUnknownID.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) (string, error) {
	var out []byte
	for i, id := range ids {
		if at, ok := t.added[id]; ok {
			if !skipSpecial || !at.special {
				out = append(out, at.content...)
			}
			continue
		}
		tok, ok := t.tokens[id]
		if !ok {
			return "", fmt.Errorf("decode: ids[%d]: %d: %w", i, id, ErrUnknownID)
		}
		out = unByteLevel(out, tok)
	}
	return string(out), nil
}
