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

// Command apidocs writes the reference of the serving.dllm.dev API, docs/api-reference.md, from
// the Go types in api/v1alpha1, so the page cannot drift from the API:
//
//	go run ./hack/apidocs > docs/api-reference.md
//
// It parses api/v1alpha1/*_types.go with go/parser and go/doc (the standard library only),
// starts at the DLLMService kind and follows the field types declared in the package. Each
// struct becomes a table of its fields: the JSON name from the json tag (inlined structs
// contribute their fields), the type (a link to the section of a package-local type), whether
// it is required (+required, +optional, else omitempty/omitzero), the default
// (+kubebuilder:default), the validation markers (bounds, lengths, patterns, enums, the
// messages of CEL rules) and the field's doc comment. String types with an Enum marker list
// their values with the doc comments of their constants. The output depends only on the
// source, so the test in this package can compare it with the committed page.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// rootKind is the kind the reference starts from by default.
const rootKind = "DLLMService"

// importPath is the API package's import path (go/doc needs one; it does not appear in the
// output).
const importPath = "dllm.dev/dllm-operator/api/v1alpha1"

func main() {
	dir := flag.String("dir", "api/v1alpha1", "Directory of the API package (its *_types.go and groupversion_info.go).")
	kind := flag.String("kind", rootKind, "The kind the reference starts from.")
	flag.Usage = func() {
		// A failed write of the usage text leaves nothing better to do.
		_, _ = fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./hack/apidocs [-dir DIR] [-kind KIND] > docs/api-reference.md\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	out, err := generate(*dir, *kind)
	if err != nil {
		fmt.Fprintf(os.Stderr, "apidocs: %v\n", err)
		os.Exit(1)
	}
	if _, err := os.Stdout.Write(out); err != nil {
		fmt.Fprintf(os.Stderr, "apidocs: %v\n", err)
		os.Exit(1)
	}
}

// generate renders the API reference of the package in dir, starting at the kind named kind.
func generate(dir, kind string) ([]byte, error) {
	p, err := load(dir)
	if err != nil {
		return nil, err
	}
	root := p.types[kind]
	if root == nil || root.structType() == nil {
		return nil, fmt.Errorf("%s: no struct type %s in *_types.go", dir, kind)
	}
	var order []string
	p.walk(kind, map[string]bool{}, &order)

	var b bytes.Buffer
	p.writeHeader(&b, root)
	for _, name := range order {
		p.writeType(&b, p.types[name])
	}
	p.writeAnnotations(&b)
	return b.Bytes(), nil
}

// apiPackage is what the generator knows of the API package.
type apiPackage struct {
	group, version string
	// types are the package's named types by name.
	types map[string]*typeInfo
	// annotations are the untyped string constants named Annotation*, in source order.
	annotations []constInfo
}

// typeInfo is one named type: its prose, its markers and, for string enums, its constants.
type typeInfo struct {
	name    string
	prose   string
	markers []string
	spec    *ast.TypeSpec
	consts  []constInfo
}

// constInfo is one constant: its name, its string value and its doc comment's prose.
type constInfo struct {
	name, value, prose string
}

// structType is the type's struct, or nil when it is not a struct.
func (t *typeInfo) structType() *ast.StructType {
	st, _ := t.spec.Type.(*ast.StructType)
	return st
}

// load parses dir's *_types.go (the types) and groupversion_info.go (the group name).
func load(dir string) (*apiPackage, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*_types.go"))
	if err != nil {
		return nil, err
	}
	names = slices.DeleteFunc(names, func(n string) bool { return strings.HasSuffix(n, "_test.go") })
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no *_types.go files", dir)
	}
	slices.Sort(names)
	fset := token.NewFileSet()
	files := make([]*ast.File, 0, len(names))
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	d, err := doc.NewFromFiles(fset, files, importPath, doc.AllDecls|doc.PreserveAST)
	if err != nil {
		return nil, fmt.Errorf("read the documentation of %s: %w", dir, err)
	}
	group, err := groupName(filepath.Join(dir, "groupversion_info.go"))
	if err != nil {
		return nil, err
	}
	p := &apiPackage{group: group, version: d.Name, types: map[string]*typeInfo{}}
	for _, t := range d.Types {
		p.addType(t)
	}
	for _, v := range d.Consts {
		for _, c := range constants(v) {
			if strings.HasPrefix(c.name, "Annotation") {
				p.annotations = append(p.annotations, c)
			}
		}
	}
	return p, nil
}

// groupName reads the +groupName marker of the package comment in file.
func groupName(file string) (string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.PackageClauseOnly|parser.ParseComments)
	if err != nil {
		return "", err
	}
	if f.Doc != nil {
		for _, m := range splitDoc(f.Doc.Text()).markers {
			if g, ok := strings.CutPrefix(m, "groupName="); ok {
				return g, nil
			}
		}
	}
	return "", fmt.Errorf("%s: no +groupName marker in the package comment", file)
}

// addType records one type of the package documentation.
func (p *apiPackage) addType(t *doc.Type) {
	var spec *ast.TypeSpec
	for _, s := range t.Decl.Specs {
		if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.Name == t.Name {
			spec = ts
		}
	}
	if spec == nil {
		return
	}
	text := t.Doc
	if spec.Doc != nil && len(t.Decl.Specs) > 1 {
		text = spec.Doc.Text()
	}
	d := splitDoc(text)
	ti := &typeInfo{name: t.Name, prose: d.prose, markers: d.markers, spec: spec}
	for _, v := range t.Consts {
		ti.consts = append(ti.consts, constants(v)...)
	}
	p.types[t.Name] = ti
}

// constants returns the string constants of a const declaration, with each spec's own doc
// comment (or the declaration's, for a spec without one).
func constants(v *doc.Value) []constInfo {
	var out []constInfo
	for _, s := range v.Decl.Specs {
		vs, ok := s.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 {
			continue
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			continue
		}
		value, err := strconv.Unquote(lit.Value)
		if err != nil {
			continue
		}
		prose := ""
		switch {
		case vs.Doc != nil:
			prose = splitDoc(vs.Doc.Text()).prose
		case len(v.Decl.Specs) == 1:
			// const X = "..." documents the declaration, not the spec.
			prose = splitDoc(v.Doc).prose
		}
		out = append(out, constInfo{name: vs.Names[0].Name, value: value, prose: prose})
	}
	return out
}

// docParts is a doc comment split into prose (paragraphs separated by blank lines) and
// marker lines (without their leading '+').
type docParts struct {
	prose   string
	markers []string
}

// splitDoc separates a doc comment's marker lines from its prose. Prose lines of one
// paragraph are joined with spaces; paragraphs are separated by a blank line.
func splitDoc(text string) docParts {
	var d docParts
	var paras []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			paras = append(paras, strings.Join(cur, " "))
			cur = nil
		}
	}
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "+"):
			d.markers = append(d.markers, line[1:])
			flush()
		case line == "":
			flush()
		default:
			cur = append(cur, line)
		}
	}
	flush()
	d.prose = strings.Join(paras, "\n\n")
	return d
}

// walk appends name and, depth first in field order, the package-local types its fields use,
// each once. Structs inlined into another contribute their fields there and get no section.
func (p *apiPackage) walk(name string, seen map[string]bool, order *[]string) {
	t := p.types[name]
	if t == nil || seen[name] {
		return
	}
	seen[name] = true
	*order = append(*order, name)
	p.walkFields(t, seen, order)
}

// walkFields follows the types of t's fields (and of the fields of structs t inlines).
func (p *apiPackage) walkFields(t *typeInfo, seen map[string]bool, order *[]string) {
	st := t.structType()
	if st == nil {
		return
	}
	for _, f := range st.Fields.List {
		local := p.localType(f.Type)
		if local == nil {
			continue
		}
		if _, inline := jsonName(f); inline && local.structType() != nil {
			p.walkFields(local, seen, order)
			continue
		}
		p.walk(local.name, seen, order)
	}
}

// localType is the package-local named type that e refers to, through pointers, slices and
// map values; nil when e names a type of another package or a predeclared one.
func (p *apiPackage) localType(e ast.Expr) *typeInfo {
	switch t := e.(type) {
	case *ast.Ident:
		return p.types[t.Name]
	case *ast.StarExpr:
		return p.localType(t.X)
	case *ast.ArrayType:
		return p.localType(t.Elt)
	case *ast.MapType:
		return p.localType(t.Value)
	}
	return nil
}

// jsonName is a field's JSON name from its json tag and whether the field is inlined (an
// embedded field with `json:",inline"` or without a name in its tag).
func jsonName(f *ast.Field) (name string, inline bool) {
	tag := ""
	if f.Tag != nil {
		if unquoted, err := strconv.Unquote(f.Tag.Value); err == nil {
			tag = reflect.StructTag(unquoted).Get("json")
		}
	}
	name, opts, _ := strings.Cut(tag, ",")
	embedded := len(f.Names) == 0
	if slices.Contains(strings.Split(opts, ","), "inline") || (embedded && name == "") {
		return "", true
	}
	if name == "" && !embedded {
		name = f.Names[0].Name
	}
	return name, false
}

// omittable reports whether the field's json tag omits an empty value.
func omittable(f *ast.Field) bool {
	if f.Tag == nil {
		return false
	}
	unquoted, err := strconv.Unquote(f.Tag.Value)
	if err != nil {
		return false
	}
	_, opts, _ := strings.Cut(reflect.StructTag(unquoted).Get("json"), ",")
	o := strings.Split(opts, ",")
	return slices.Contains(o, "omitempty") || slices.Contains(o, "omitzero")
}
