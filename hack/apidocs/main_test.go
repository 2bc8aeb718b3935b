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

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// repoRoot is the repository root, seen from this package's directory (where go test runs).
var repoRoot = filepath.Join("..", "..")

// TestAPIReferenceIsCurrent fails when docs/api-reference.md is not what the generator makes
// of api/v1alpha1 today.
func TestAPIReferenceIsCurrent(t *testing.T) {
	got, err := generate(filepath.Join(repoRoot, "api", "v1alpha1"), rootKind)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	want, err := os.ReadFile(filepath.Join(repoRoot, "docs", "api-reference.md"))
	if err != nil {
		t.Fatalf("%v: run go run ./hack/apidocs > docs/api-reference.md", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/api-reference.md is stale: run go run ./hack/apidocs > docs/api-reference.md (-committed +generated):\n%s",
			cmp.Diff(string(want), string(got)))
	}
}

// TestGenerateSmallAPI runs the generator on testdata/api, which has what the real API lacks:
// an inlined local struct, a default marker, a cluster-scoped kind with two short names, a
// list of a local type and a field left out of JSON.
func TestGenerateSmallAPI(t *testing.T) {
	out, err := generate(filepath.Join("testdata", "api"), "Widget")
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	page := string(out)
	wants := []string{
		"# API reference: example.dllm.dev/v1\n",
		"| Short names | `wd`, `wdg` |\n",
		"| Scope | Cluster |\n",
		"| Size | `.spec.size` | `-o wide` |\n",
		"- spec.size, color: pick one\n",
		"| Field | Type | Required | Default | Validation | Description |\n",
		"| `label` | `string` | optional |  | Pattern: `^[a-z]+(x\\|y)$` | label tags the widget. |\n",
		"| `size` | `int32` | optional | `3` | Minimum: 1 | size is how big, in cm. |\n",
		"| `color` | [`Color`](#color) | required |  | One of `Red`, `Blue` | color is the color. |\n",
		"| `parts` | list of [`Part`](#part) | optional |  |  | parts are the parts. |\n",
		"| `timeout` | `metav1.Duration` (a duration string such as `2s`) | optional |",
		"| `Red` | ColorRed is red. |\n",
		"| `apiVersion` | `string` | required |  | `example.dllm.dev/v1` |\n",
		"| `example.dllm.dev/paint` | AnnotationPaint, set on a Widget, paints it. |\n",
	}
	for _, w := range wants {
		if !strings.Contains(page, w) {
			t.Errorf("generate(testdata/api) lacks %q", w)
		}
	}
	for _, unwanted := range []string{"## Common", "## Unused", "`internal`"} {
		if strings.Contains(page, unwanted) {
			t.Errorf("generate(testdata/api) has %q", unwanted)
		}
	}
	// Sections come in the order the kind's fields reach them.
	var sections []string
	for line := range strings.SplitSeq(page, "\n") {
		if name, ok := strings.CutPrefix(line, "## "); ok {
			sections = append(sections, name)
		}
	}
	wantSections := []string{"Resource", "Widget", "WidgetSpec", "Color", "Part", "Annotations"}
	if !slices.Equal(sections, wantSections) {
		t.Errorf("sections = %q, want %q", sections, wantSections)
	}
}

func TestSplitTopLevel(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{name: "plain", in: "a=1,b=2", want: []string{"a=1", "b=2"}},
		{name: "quoted comma", in: `rule="x, y",message="m"`, want: []string{`rule="x, y"`, `message="m"`}},
		{name: "escaped quote", in: `JSONPath=".a[?(@.t==\"R,\")]",b=1`, want: []string{`JSONPath=".a[?(@.t==\"R,\")]"`, "b=1"}},
		{name: "braces", in: "categories={a,b},shortName=x", want: []string{"categories={a,b}", "shortName=x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitTopLevel(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("splitTopLevel(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSplitDoc(t *testing.T) {
	d := splitDoc("first line\nsecond line\n\nnext paragraph\n+optional\n+kubebuilder:validation:Minimum=1\n")
	if want := "first line second line\n\nnext paragraph"; d.prose != want {
		t.Errorf("prose = %q, want %q", d.prose, want)
	}
	if want := []string{"optional", "kubebuilder:validation:Minimum=1"}; !slices.Equal(d.markers, want) {
		t.Errorf("markers = %q, want %q", d.markers, want)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct{ marker, want string }{
		{"kubebuilder:validation:Minimum=1", "Minimum: 1"},
		{"kubebuilder:validation:MaxLength=63", "Max length: 63"},
		{"kubebuilder:validation:Pattern=`^[a-z]$`", "Pattern: `^[a-z]$`"},
		{"kubebuilder:validation:Enum=A;B", "One of `A`, `B`"},
		{`kubebuilder:validation:XValidation:rule="self.a || self.b",message="spec.a or spec.b"`, "Rule: spec.a or spec.b"},
		{`kubebuilder:validation:XValidation:rule="self.a || self.b"`, "Rule: `self.a \\|\\| self.b`"},
		{"kubebuilder:default=3", ""},
		{"optional", ""},
	}
	for _, tc := range tests {
		if got := validation(tc.marker); got != tc.want {
			t.Errorf("validation(%q) = %q, want %q", tc.marker, got, tc.want)
		}
	}
}
