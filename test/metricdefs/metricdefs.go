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

// Package metricdefs owns reading the metric names a Go file declares as Metric* string
// constants (runtime/contract/metrics.go, controllers/metrics.go), with their doc comments, for
// the tests that hold hand-written files to them: the metrics reference (hack/apidocs) and the
// dashboard and alerts (test/observability).
package metricdefs

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
)

// Metric is one Metric* constant of a file.
type Metric struct {
	// Const is the constant's name, Name its value (the metric's name), Doc its doc comment.
	Const, Name, Doc string
}

// Read returns the Metric* constants of the Go file at path, in order. A Metric* constant that
// is not a string literal is an error.
func Read(path string) ([]Metric, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var out []Metric
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if !strings.HasPrefix(id.Name, "Metric") {
					continue
				}
				var lit *ast.BasicLit
				if i < len(vs.Values) {
					lit, _ = vs.Values[i].(*ast.BasicLit)
				}
				if lit == nil || lit.Kind != token.STRING {
					return nil, fmt.Errorf("%s: %s is not a string literal", path, id.Name)
				}
				name, err := strconv.Unquote(lit.Value)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", path, id.Name, err)
				}
				out = append(out, Metric{Const: id.Name, Name: name, Doc: vs.Doc.Text()})
			}
		}
	}
	return out, nil
}
