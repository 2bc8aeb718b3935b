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

// Package testmodel writes tiny LLaDA and Dream checkpoints with seeded random weights, in the
// exact Hugging Face layout of the real models: config.json with the real field set,
// model.safetensors (or model-0000N-of-0000M.safetensors shards with
// model.safetensors.index.json) in BF16 with the real tensor names, tokenizer.json (byte-level
// BPE) and tokenizer_config.json with the family's chat template. The runtime's loaders, server
// and tests run against such a checkpoint without downloading gigabytes of weights; the model
// output is noise, the plumbing is real.
//
// Vocabulary layout of every test model: ids 0-255 are the GPT-2 byte-level symbols in byte
// order, the next ids are the merged tokens in merge order, then the family's special tokens in
// the order of the real tokenizer. The embedding table may have more rows than the tokenizer has
// tokens, as the real models' padded tables do.
//
// Imports: the standard library, runtime/weights for the safetensors writer and the tensor
// names; never k8s.io or sigs.k8s.io.
//
// Invariants: [Write] is deterministic, so one Options value always gives byte-identical files.
// Each file is replaced atomically, so a reader never sees a half-written file; the set of files
// is not replaced as a whole.
package testmodel
