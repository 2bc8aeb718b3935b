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
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"dllm.dev/dllm-operator/test/metricdefs"
)

// TestMetricsPageListsEveryRuntimeMetric fails when docs/metrics.md, which is written by hand,
// misses a metric that runtime/contract/metrics.go defines, or lists a runtime metric
// (dllm_*, the operator's dllm_operator_* aside) that it no longer defines.
func TestMetricsPageListsEveryRuntimeMetric(t *testing.T) {
	defined := contractMetrics(t, filepath.Join(repoRoot, "runtime", "contract", "metrics.go"))
	if len(defined) == 0 {
		t.Fatal("runtime/contract/metrics.go defines no Metric* constants")
	}
	page, err := os.ReadFile(filepath.Join(repoRoot, "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	listed := tableMetrics(string(page))
	for _, name := range defined {
		if !slices.Contains(listed, name) {
			t.Errorf("docs/metrics.md has no table row for %s (runtime/contract/metrics.go)", name)
		}
	}
	for _, name := range listed {
		if strings.HasPrefix(name, "dllm_") && !strings.HasPrefix(name, "dllm_operator_") && !slices.Contains(defined, name) {
			t.Errorf("docs/metrics.md lists %s, which runtime/contract/metrics.go does not define", name)
		}
	}
}

// contractMetrics are the values of the Metric* string constants in file.
func contractMetrics(t *testing.T, file string) []string {
	t.Helper()
	defs, err := metricdefs.Read(file)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = d.Name
	}
	return names
}

// metricInCell is a metric name in a code span, with or without labels: `dllm_x{a,b}`.
var metricInCell = regexp.MustCompile("`([a-z_:][a-z0-9_:]*)(\\{[^`]*\\})?`")

// tableMetrics are the metric names in the first cell of the page's table rows.
func tableMetrics(page string) []string {
	var names []string
	for line := range strings.SplitSeq(page, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		for _, m := range metricInCell.FindAllStringSubmatch(cells[1], -1) {
			names = append(names, m[1])
		}
	}
	return names
}

func TestTableMetrics(t *testing.T) {
	page := "text `dllm_not_in_table`\n| Metric | Type |\n|---|---|\n| `dllm_a_total` | counter |\n| `dllm_b{kind}`, `dllm_c` | gauge |\n"
	want := []string{"dllm_a_total", "dllm_b", "dllm_c"}
	if got := tableMetrics(page); !slices.Equal(got, want) {
		t.Errorf("tableMetrics = %q, want %q", got, want)
	}
}
