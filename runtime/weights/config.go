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

package weights

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Family is a model architecture the runtime implements. The values are spelled as the
// runtime contract's model.family field spells them.
type Family string

const (
	// FamilyLLaDA is LLaDA (GSAI-ML/LLaDA-8B-*): model_type "llada", LLaDAModelLM.
	FamilyLLaDA Family = "LLaDA"
	// FamilyDream is Dream (Dream-org/Dream-v0-*-7B), a Qwen2 network run non-causally:
	// model_type "Dream", DreamModel.
	FamilyDream Family = "Dream"
)

// ConfigFile is the name of the model configuration inside a checkpoint folder.
const ConfigFile = "config.json"

// maxDim bounds every size in a config, so that products of two sizes fit in an int and a
// fuzzed or corrupt config cannot ask for absurd allocations later.
const maxDim = 1 << 30

// maxLayers bounds the number of blocks; the largest models published have a few hundred.
const maxLayers = 1 << 12

// Config is the normalised model configuration of either family: the sizes and constants
// the model code needs, whatever the field names in config.json. Token ids that the file does
// not give are -1.
type Config struct {
	// Family is the architecture.
	Family Family
	// Hidden is the model width D.
	Hidden int
	// Layers is the number of transformer blocks.
	Layers int
	// Heads is the number of query heads H.
	Heads int
	// KVHeads is the number of key/value heads; it divides Heads (grouped-query attention
	// when smaller).
	KVHeads int
	// HeadDim is Dh = Hidden / Heads.
	HeadDim int
	// Intermediate is the MLP width I (of the gate and up projections).
	Intermediate int
	// Vocab is the number of rows V of the embedding and LM head. For LLaDA it is
	// embedding_size (the padded vocabulary) when the file gives one.
	Vocab int
	// RopeTheta is the RoPE base.
	RopeTheta float64
	// RMSNormEps is the epsilon of every RMSNorm.
	RMSNormEps float64
	// MaskTokenID is the id of the diffusion mask token; always present.
	MaskTokenID int
	// EOSTokenID is the end-of-text id; always present. When config.json lists several, this
	// is the first.
	EOSTokenID int
	// PadTokenID is the padding id, or -1.
	PadTokenID int
	// BOSTokenID is the beginning-of-text id, or -1.
	BOSTokenID int
	// TiedEmbeddings reports that the LM head reuses the embedding matrix, so the checkpoint
	// has no separate head tensor.
	TiedEmbeddings bool
	// QKVBias reports that q, k and v projections have biases (always for Dream).
	QKVBias bool
	// MaxSequenceLength is the longest sequence the model was trained for
	// (max_sequence_length, max_position_embeddings), or 0 when config.json does not say.
	MaxSequenceLength int
	// DType is the dtype config.json declares (torch_dtype), or DTypeUnknown when it declares
	// none; [Open] then sets it to the dtype the weights are stored in.
	DType DType
}

// LoadConfig reads and parses the config.json at path. Errors name the file and, for
// invalid or unsupported settings, the field.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("load config %q: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses the contents of a config.json of either family, detected from
// model_type and architectures, and validates the result. Fields it does not know are
// ignored; real configs carry many (dropouts, init settings, auto_map, ...).
func ParseConfig(data []byte) (Config, error) {
	var probe struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return Config{}, fmt.Errorf("parse JSON: %w", err)
	}
	family, err := detectFamily(probe.ModelType, probe.Architectures)
	if err != nil {
		return Config{}, err
	}
	var cfg Config
	switch family {
	case FamilyLLaDA:
		cfg, err = parseLLaDA(data)
	case FamilyDream:
		cfg, err = parseDream(data)
	}
	if err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// detectFamily picks the family from model_type and architectures; when both are present
// they must agree.
func detectFamily(modelType string, architectures []string) (Family, error) {
	var byType, byArch Family
	switch strings.ToLower(modelType) {
	case "":
	case "llada":
		byType = FamilyLLaDA
	case "dream":
		byType = FamilyDream
	default:
		return "", fmt.Errorf("model_type: %q unsupported, want \"llada\" or \"Dream\"", modelType)
	}
	for _, a := range architectures {
		var f Family
		switch a {
		case "LLaDAModelLM":
			f = FamilyLLaDA
		case "DreamModel":
			f = FamilyDream
		default:
			continue
		}
		if byArch != "" && byArch != f {
			return "", fmt.Errorf("architectures: %q mixes families", architectures)
		}
		byArch = f
	}
	switch {
	case byType != "" && byArch != "" && byType != byArch:
		return "", fmt.Errorf("architectures: %q disagrees with model_type %q", architectures, modelType)
	case byType != "":
		return byType, nil
	case byArch != "":
		return byArch, nil
	}
	return "", fmt.Errorf("model_type: missing, and architectures %q names no supported model (LLaDAModelLM, DreamModel)", architectures)
}

// tokenID is a token id field that may be null, a number or (eos_token_id in some
// configs) a list of numbers; it keeps the first.
type tokenID struct {
	set bool
	id  int
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *tokenID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*t = tokenID{}
		return nil
	}
	if len(b) > 0 && b[0] == '[' {
		var ids []int
		if err := json.Unmarshal(b, &ids); err != nil {
			return err
		}
		if len(ids) == 0 {
			*t = tokenID{}
			return nil
		}
		*t = tokenID{set: true, id: ids[0]}
		return nil
	}
	var id int
	if err := json.Unmarshal(b, &id); err != nil {
		return err
	}
	*t = tokenID{set: true, id: id}
	return nil
}

// value returns the id, or -1 when absent.
func (t tokenID) value() int {
	if !t.set {
		return -1
	}
	return t.id
}

// lladaConfig is the subset of LLaDA's (OLMo-derived) config.json the runtime reads.
// Pointers tell absent fields from zero values.
type lladaConfig struct {
	DModel              *int     `json:"d_model"`
	NLayers             *int     `json:"n_layers"`
	NHeads              *int     `json:"n_heads"`
	NKVHeads            *int     `json:"n_kv_heads"`
	MultiQueryAttention *bool    `json:"multi_query_attention"`
	MLPHiddenSize       *int     `json:"mlp_hidden_size"`
	MLPRatio            *int     `json:"mlp_ratio"`
	VocabSize           *int     `json:"vocab_size"`
	EmbeddingSize       *int     `json:"embedding_size"`
	RopeTheta           *float64 `json:"rope_theta"`
	RMSNormEps          *float64 `json:"rms_norm_eps"`
	MaskTokenID         tokenID  `json:"mask_token_id"`
	EOSTokenID          tokenID  `json:"eos_token_id"`
	PadTokenID          tokenID  `json:"pad_token_id"`
	BOSTokenID          tokenID  `json:"bos_token_id"`
	WeightTying         *bool    `json:"weight_tying"`
	IncludeBias         *bool    `json:"include_bias"`
	IncludeQKVBias      *bool    `json:"include_qkv_bias"`
	MaxSequenceLength   *int     `json:"max_sequence_length"`
	ActivationType      *string  `json:"activation_type"`
	BlockType           *string  `json:"block_type"`
	LayerNormType       *string  `json:"layer_norm_type"`
	LayerNormWithAffine *bool    `json:"layer_norm_with_affine"`
	BiasForLayerNorm    *bool    `json:"bias_for_layer_norm"`
	Rope                *bool    `json:"rope"`
	Alibi               *bool    `json:"alibi"`
	AttentionLayerNorm  *bool    `json:"attention_layer_norm"`
	InputEmbNorm        *bool    `json:"input_emb_norm"`
	ScaleLogits         *bool    `json:"scale_logits"`
	ClipQKV             *float64 `json:"clip_qkv"`
	TorchDType          *string  `json:"torch_dtype"`
}

// parseLLaDA reads a LLaDA config.json. LLaDA's modelling code is OLMo's: block_type "llama"
// computes ff_out(silu(ff_proj(x)) * up_proj(x)) with separate q/k/v projections, which is
// the only block the runtime implements.
func parseLLaDA(data []byte) (Config, error) {
	var c lladaConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("parse LLaDA config: %w", err)
	}
	if err := c.unsupported(); err != nil {
		return Config{}, err
	}
	cfg := Config{
		Family:      FamilyLLaDA,
		Hidden:      deref(c.DModel, 0),
		Layers:      deref(c.NLayers, 0),
		Heads:       deref(c.NHeads, 0),
		RopeTheta:   deref(c.RopeTheta, 10000),
		RMSNormEps:  deref(c.RMSNormEps, 1e-5),
		MaskTokenID: c.MaskTokenID.value(),
		EOSTokenID:  c.EOSTokenID.value(),
		PadTokenID:  c.PadTokenID.value(),
		BOSTokenID:  c.BOSTokenID.value(),
		// OLMo's defaults: tied embeddings unless weight_tying is false.
		TiedEmbeddings:    deref(c.WeightTying, true),
		QKVBias:           deref(c.IncludeQKVBias, false),
		MaxSequenceLength: deref(c.MaxSequenceLength, 0),
	}
	switch {
	case c.NKVHeads != nil:
		cfg.KVHeads = *c.NKVHeads
	case deref(c.MultiQueryAttention, false):
		cfg.KVHeads = 1
	default:
		cfg.KVHeads = cfg.Heads
	}
	// The explicit hidden size wins over the ratio, as in OLMo.
	switch {
	case c.MLPHiddenSize != nil:
		cfg.Intermediate = *c.MLPHiddenSize
	case c.MLPRatio != nil && inRange(*c.MLPRatio) && inRange(cfg.Hidden):
		cfg.Intermediate = *c.MLPRatio * cfg.Hidden
	}
	vocab := deref(c.VocabSize, 0)
	cfg.Vocab = vocab
	if c.EmbeddingSize != nil {
		if *c.EmbeddingSize < vocab {
			return Config{}, fmt.Errorf("embedding_size: %d is smaller than vocab_size %d", *c.EmbeddingSize, vocab)
		}
		cfg.Vocab = *c.EmbeddingSize
	}
	if c.TorchDType != nil {
		dt, err := parseTorchDType(*c.TorchDType)
		if err != nil {
			return Config{}, fmt.Errorf("torch_dtype: %w", err)
		}
		cfg.DType = dt
	}
	if cfg.Hidden > 0 && cfg.Heads > 0 {
		cfg.HeadDim = cfg.Hidden / cfg.Heads
	}
	return cfg, nil
}

// unsupported rejects the OLMo/LLaDA options the runtime's LLaDA model does not implement.
func (c *lladaConfig) unsupported() error {
	type flag struct {
		name string
		v    *bool
		want bool // the only supported value
	}
	for _, f := range []flag{
		{"rope", c.Rope, true},
		{"alibi", c.Alibi, false},
		{"attention_layer_norm", c.AttentionLayerNorm, false},
		{"input_emb_norm", c.InputEmbNorm, false},
		{"scale_logits", c.ScaleLogits, false},
		{"include_bias", c.IncludeBias, false},
		{"bias_for_layer_norm", c.BiasForLayerNorm, false},
		{"layer_norm_with_affine", c.LayerNormWithAffine, true},
	} {
		// rope has no safe default: without it there is no position information at all.
		if f.v == nil && f.name == "rope" {
			return errors.New("rope: missing, the runtime supports only rope: true")
		}
		if f.v != nil && *f.v != f.want {
			return fmt.Errorf("%s: %t unsupported, the runtime supports only %t", f.name, *f.v, f.want)
		}
	}
	type choice struct {
		name string
		v    *string
		want string
	}
	for _, f := range []choice{
		{"activation_type", c.ActivationType, "silu"},
		{"block_type", c.BlockType, "llama"},
		{"layer_norm_type", c.LayerNormType, "rms"},
	} {
		if f.v != nil && *f.v != f.want {
			return fmt.Errorf("%s: %q unsupported, the runtime supports only %q", f.name, *f.v, f.want)
		}
	}
	if c.ClipQKV != nil {
		return fmt.Errorf("clip_qkv: %g unsupported, the runtime supports only null", *c.ClipQKV)
	}
	return nil
}

// dreamConfig is the subset of Dream's (Qwen2-style) config.json the runtime reads.
type dreamConfig struct {
	HiddenSize            *int            `json:"hidden_size"`
	NumHiddenLayers       *int            `json:"num_hidden_layers"`
	NumAttentionHeads     *int            `json:"num_attention_heads"`
	NumKeyValueHeads      *int            `json:"num_key_value_heads"`
	HeadDim               *int            `json:"head_dim"`
	IntermediateSize      *int            `json:"intermediate_size"`
	VocabSize             *int            `json:"vocab_size"`
	RopeTheta             *float64        `json:"rope_theta"`
	RMSNormEps            *float64        `json:"rms_norm_eps"`
	MaskTokenID           tokenID         `json:"mask_token_id"`
	EOSTokenID            tokenID         `json:"eos_token_id"`
	PadTokenID            tokenID         `json:"pad_token_id"`
	BOSTokenID            tokenID         `json:"bos_token_id"`
	TieWordEmbeddings     *bool           `json:"tie_word_embeddings"`
	MaxPositionEmbeddings *int            `json:"max_position_embeddings"`
	HiddenAct             *string         `json:"hidden_act"`
	RopeScaling           json.RawMessage `json:"rope_scaling"`
	UseSlidingWindow      *bool           `json:"use_sliding_window"`
	TorchDType            *string         `json:"torch_dtype"`
}

// parseDream reads a Dream config.json: Qwen2's field names, with QKV biases.
func parseDream(data []byte) (Config, error) {
	var c dreamConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("parse Dream config: %w", err)
	}
	if c.HiddenAct != nil && *c.HiddenAct != "silu" {
		return Config{}, fmt.Errorf("hidden_act: %q unsupported, the runtime supports only \"silu\"", *c.HiddenAct)
	}
	if rs := bytes.TrimSpace(c.RopeScaling); len(rs) > 0 && !bytes.Equal(rs, []byte("null")) {
		return Config{}, fmt.Errorf("rope_scaling: %s unsupported, the runtime supports only null", rs)
	}
	if deref(c.UseSlidingWindow, false) {
		return Config{}, errors.New("use_sliding_window: true unsupported, the runtime supports only false")
	}
	cfg := Config{
		Family:            FamilyDream,
		Hidden:            deref(c.HiddenSize, 0),
		Layers:            deref(c.NumHiddenLayers, 0),
		Heads:             deref(c.NumAttentionHeads, 0),
		Intermediate:      deref(c.IntermediateSize, 0),
		Vocab:             deref(c.VocabSize, 0),
		RopeTheta:         deref(c.RopeTheta, 10000),
		RMSNormEps:        deref(c.RMSNormEps, 1e-6),
		MaskTokenID:       c.MaskTokenID.value(),
		EOSTokenID:        c.EOSTokenID.value(),
		PadTokenID:        c.PadTokenID.value(),
		BOSTokenID:        c.BOSTokenID.value(),
		TiedEmbeddings:    deref(c.TieWordEmbeddings, false),
		QKVBias:           true,
		MaxSequenceLength: deref(c.MaxPositionEmbeddings, 0),
	}
	cfg.KVHeads = deref(c.NumKeyValueHeads, cfg.Heads)
	if cfg.Hidden > 0 && cfg.Heads > 0 {
		cfg.HeadDim = cfg.Hidden / cfg.Heads
	}
	if c.HeadDim != nil && *c.HeadDim != cfg.HeadDim {
		return Config{}, fmt.Errorf("head_dim: %d unsupported, the runtime needs hidden_size / num_attention_heads = %d", *c.HeadDim, cfg.HeadDim)
	}
	if c.TorchDType != nil {
		dt, err := parseTorchDType(*c.TorchDType)
		if err != nil {
			return Config{}, fmt.Errorf("torch_dtype: %w", err)
		}
		cfg.DType = dt
	}
	return cfg, nil
}

// fieldNames holds the config.json names of the Config fields for one family, so that
// Validate's errors name the field the user has to fix.
type fieldNames struct {
	hidden, layers, heads, kvHeads, intermediate, vocab string
	ropeTheta, rmsNormEps, maxSequenceLength            string
	mask, eos, pad, bos                                 string
}

// familyFields maps each family to its field names.
var familyFields = map[Family]fieldNames{
	FamilyLLaDA: {
		hidden: "d_model", layers: "n_layers", heads: "n_heads", kvHeads: "n_kv_heads",
		intermediate: "mlp_hidden_size", vocab: "vocab_size", ropeTheta: "rope_theta",
		rmsNormEps: "rms_norm_eps", maxSequenceLength: "max_sequence_length",
		mask: "mask_token_id", eos: "eos_token_id", pad: "pad_token_id", bos: "bos_token_id",
	},
	FamilyDream: {
		hidden: "hidden_size", layers: "num_hidden_layers", heads: "num_attention_heads",
		kvHeads: "num_key_value_heads", intermediate: "intermediate_size", vocab: "vocab_size",
		ropeTheta: "rope_theta", rmsNormEps: "rms_norm_eps",
		maxSequenceLength: "max_position_embeddings",
		mask:              "mask_token_id", eos: "eos_token_id", pad: "pad_token_id", bos: "bos_token_id",
	},
}

// Validate checks that c describes a model the runtime can build. Its errors name the
// config.json field of c's family.
func (c Config) Validate() error {
	names, ok := familyFields[c.Family]
	if !ok {
		return fmt.Errorf("family %q unsupported", c.Family)
	}
	if err := c.validateSizes(names); err != nil {
		return err
	}
	if !(c.RopeTheta > 1) || c.RopeTheta > 1e12 {
		return fmt.Errorf("%s: %g out of range, want above 1", names.ropeTheta, c.RopeTheta)
	}
	if !(c.RMSNormEps > 0) || c.RMSNormEps >= 1 {
		return fmt.Errorf("%s: %g out of range, want between 0 and 1", names.rmsNormEps, c.RMSNormEps)
	}
	if c.MaxSequenceLength < 0 || c.MaxSequenceLength > maxDim {
		return fmt.Errorf("%s: %d out of range", names.maxSequenceLength, c.MaxSequenceLength)
	}
	if err := c.validateTokenIDs(names); err != nil {
		return err
	}
	if !slices.Contains([]DType{DTypeUnknown, BF16, F16, F32}, c.DType) {
		return fmt.Errorf("torch_dtype: %v unsupported", c.DType)
	}
	return nil
}

// validateSizes checks the dimensions and how the heads split the hidden size.
func (c Config) validateSizes(names fieldNames) error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{names.hidden, c.Hidden}, {names.layers, c.Layers}, {names.heads, c.Heads},
		{names.kvHeads, c.KVHeads}, {names.intermediate, c.Intermediate}, {names.vocab, c.Vocab},
	} {
		if f.v <= 0 || f.v > maxDim {
			return fmt.Errorf("%s: %d out of range, want 1 to %d", f.name, f.v, maxDim)
		}
	}
	if c.Layers > maxLayers {
		return fmt.Errorf("%s: %d out of range, want at most %d", names.layers, c.Layers, maxLayers)
	}
	if c.Hidden%c.Heads != 0 {
		return fmt.Errorf("%s: %d heads do not divide the hidden size %d", names.heads, c.Heads, c.Hidden)
	}
	if c.HeadDim != c.Hidden/c.Heads {
		return fmt.Errorf("head_dim: %d, want %d / %d = %d", c.HeadDim, c.Hidden, c.Heads, c.Hidden/c.Heads)
	}
	if c.Heads%c.KVHeads != 0 {
		return fmt.Errorf("%s: %d does not divide the %d query heads", names.kvHeads, c.KVHeads, c.Heads)
	}
	// RoPE rotates halves of each head, so the head dimension must be even.
	if c.HeadDim%2 != 0 {
		return fmt.Errorf("%s: head dimension %d is odd, RoPE needs it even", names.heads, c.HeadDim)
	}
	return nil
}

// validateTokenIDs checks that the special token ids are present where required and inside
// the vocabulary.
func (c Config) validateTokenIDs(names fieldNames) error {
	for _, id := range []struct {
		name     string
		v        int
		required bool
	}{
		{names.mask, c.MaskTokenID, true}, {names.eos, c.EOSTokenID, true},
		{names.pad, c.PadTokenID, false}, {names.bos, c.BOSTokenID, false},
	} {
		switch {
		case id.v == -1 && id.required:
			return fmt.Errorf("%s: missing", id.name)
		case id.v == -1:
		case id.v < 0 || id.v >= c.Vocab:
			return fmt.Errorf("%s: %d outside the vocabulary [0, %d)", id.name, id.v, c.Vocab)
		}
	}
	return nil
}

// deref returns *p, or def when p is nil.
func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// inRange reports whether a size lies in [1, maxDim].
func inRange(n int) bool { return n > 0 && n <= maxDim }
