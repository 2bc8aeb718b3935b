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

package tensor

import "errors"

// ErrShape is returned, wrapped, when an operation's operands have ranks or dimensions that do
// not fit together (for example a MatMul whose inner dimensions differ, or Hkv not dividing H).
// Match it with errors.Is(err, tensor.ErrShape).
var ErrShape = errors.New("tensor: shape mismatch")

// ErrDType is returned, wrapped, when a backend does not support an operand's dtype or the
// operands' dtypes differ. Match it with errors.Is(err, tensor.ErrDType).
var ErrDType = errors.New("tensor: unsupported dtype")

// ErrArgument is returned, wrapped, for any other invalid argument: a nil tensor, a tensor from
// another backend, a destination that overlaps an input where the operation forbids it, an id
// or position out of range, a non-positive RoPE theta, or a key mask that hides every key.
// Match it with errors.Is(err, tensor.ErrArgument).
var ErrArgument = errors.New("tensor: invalid argument")
