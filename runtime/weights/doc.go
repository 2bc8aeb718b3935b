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

// Package weights loads Hugging Face checkpoints of the diffusion language models the runtime
// serves (the LLaDA and Dream families) from a folder on disk.
//
// It owns:
//   - config.json: [LoadConfig] and [ParseConfig] turn either family's file into one normalised
//     [Config] and reject feature flags the runtime does not implement, naming the field;
//   - the safetensors format: [Open] memory-maps model.safetensors, or the shards listed in
//     model.safetensors.index.json, validates every header and hands out zero-copy [Tensor]
//     views; [WriteSafetensors] and [WriteIndex] write the same layout (tests and the testmodel
//     command build tiny checkpoints with them);
//   - the tensor names and shapes each family's config implies ([Expected]), checked by [Open];
//   - conversions between BF16, F16 and F32 ([Tensor.Float32], [EncodeBF16], [EncodeF16], ...).
//
// # Imports
//
// The package imports only the standard library. It must never import k8s.io or sigs.k8s.io
// (the runtime does not depend on Kubernetes; the linter's depguard rule enforces it).
//
// # Shapes
//
// Shapes are row-major, outermost dimension first, exactly as the checkpoint stores them.
// Linear weights keep PyTorch's [out, in] layout: q_proj is [H*Dh, D], attn_out / o_proj is
// [D, H*Dh], the MLP's gate and up projections are [I, D] and its down projection is [D, I].
// Embeddings and LM heads are [V, D]; norms and biases are 1-D. D is the hidden size, H the
// query heads, KV the key/value heads, Dh the head dimension, I the MLP width and V the
// (padded) vocabulary, the names of runtime/model's convention.
//
// # Ownership
//
// The caller of [Open] owns the [Checkpoint] and must call [Checkpoint.Close], which unmaps the
// files. The Data of every [Tensor] a checkpoint returns is a read-only view into that mapping:
// writing to it faults, and using it after Close faults too. Copy (for example with
// [Tensor.Float32]) whatever must outlive the checkpoint. A Checkpoint is safe for concurrent
// use by several goroutines, except that Close must not run concurrently with anything else.
// Truncating a shard while it is mapped makes later reads fault (SIGBUS); the runtime treats
// the model folder as immutable.
package weights
