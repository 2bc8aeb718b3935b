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

package observability

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"dllm.dev/dllm-operator/test/metricdefs"
)

// kubeStateMetrics are the kube-state-metrics series the dashboard and the alerts use.
var kubeStateMetrics = []string{
	"kube_deployment_status_replicas_available",
	"kube_deployment_spec_replicas",
	"kube_deployment_labels",
}

// knownMetrics returns every series name a query may use: the metrics declared as Metric*
// constants in the Go files (a histogram, whose doc comment says so, only as its _bucket, _sum
// and _count series) and kube-state-metrics'.
func knownMetrics(t *testing.T, files ...string) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	for _, name := range kubeStateMetrics {
		known[name] = true
	}
	for _, file := range files {
		defs, err := metricdefs.Read(file)
		if err != nil {
			t.Fatal(err)
		}
		if len(defs) == 0 {
			t.Fatalf("%s declares no Metric* constants", file)
		}
		for _, d := range defs {
			if strings.Contains(d.Doc, "is a histogram") {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					known[d.Name+s] = true
				}
			} else {
				known[d.Name] = true
			}
		}
	}
	return known
}

var (
	stringLiteral = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	labelMatchers = regexp.MustCompile(`\{[^{}]*\}`)
	rangeOrSubq   = regexp.MustCompile(`\[[^\[\]]*\]`)
	grafanaVar    = regexp.MustCompile(`\$\{?\w+\}?`)
	grouping      = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	identifier    = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:.])([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	call          = regexp.MustCompile(`^\s*\(`)
	rateOf        = regexp.MustCompile(`\b(?:rate|irate|increase)\s*\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	selector      = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^{}]*)\}`)
	labelValues   = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_]\w*\s*\)$`)
)

// keywords are PromQL's words that are not metric names.
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "bool": true, "offset": true, "inf": true, "nan": true,
	"atan2": true,
}

// metricNames returns the metric name of every vector selector in expr, in order and with
// repeats, or an error when expr's brackets do not balance.
func metricNames(expr string) ([]string, error) {
	stripped := stringLiteral.ReplaceAllString(expr, `""`)
	if err := balanced(stripped); err != nil {
		return nil, err
	}
	stripped = labelMatchers.ReplaceAllString(stripped, " ")
	stripped = rangeOrSubq.ReplaceAllString(stripped, " ")
	stripped = grafanaVar.ReplaceAllString(stripped, " ")
	stripped = grouping.ReplaceAllString(stripped, " ")
	var names []string
	for _, m := range identifier.FindAllStringSubmatchIndex(stripped, -1) {
		name := stripped[m[2]:m[3]]
		if keywords[name] || call.MatchString(stripped[m[3]:]) {
			continue
		}
		names = append(names, name)
	}
	return names, nil
}

// balanced reports brackets of expr (without its strings) that do not pair up.
func balanced(expr string) error {
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	var stack []rune
	for i, r := range expr {
		switch r {
		case '(', '[', '{':
			stack = append(stack, r)
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return fmt.Errorf("unbalanced %q at offset %d", r, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("%d unclosed brackets", len(stack))
	}
	return nil
}

// checkExpr returns what is wrong with expr: unbalanced brackets, unknown metrics (a
// histogram's name without a series suffix among them) and rates of series that are not
// counters.
func checkExpr(expr string, known map[string]bool) []string {
	if strings.TrimSpace(expr) == "" {
		return []string{"empty expression"}
	}
	names, err := metricNames(expr)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	if len(names) == 0 {
		problems = append(problems, "no metric")
	}
	for _, name := range names {
		if !known[name] {
			problems = append(problems, fmt.Sprintf("unknown metric %s", name))
		}
	}
	for _, m := range rateOf.FindAllStringSubmatch(stringLiteral.ReplaceAllString(expr, `""`), -1) {
		if !strings.HasSuffix(m[1], "_total") && !strings.HasSuffix(m[1], "_bucket") &&
			!strings.HasSuffix(m[1], "_sum") && !strings.HasSuffix(m[1], "_count") {
			problems = append(problems, fmt.Sprintf("rate of %s, which is not a counter", m[1]))
		}
	}
	return problems
}

// The checker finds what it should: a test of the tests, so that the dashboard and rule tests
// can fail.
func TestCheckExpr(t *testing.T) {
	known := map[string]bool{"dllm_a_total": true, "dllm_h_bucket": true, "dllm_h_count": true, "dllm_g": true}
	tests := []struct {
		name string
		expr string
		want []string
	}{
		{name: "histogram quantile", expr: `histogram_quantile(0.95, sum by (namespace, le) (rate(dllm_h_bucket{service=~"$service"}[$__rate_interval])))`},
		{name: "ratio with trailing by", expr: `sum(rate(dllm_a_total[5m])) by (kind) / sum(rate(dllm_h_count[5m])) by (kind)`},
		{name: "strings are not metrics", expr: `label_replace(dllm_g{a="x y"}, "service", "$1", "deployment", "(.+)") > 0.9`},
		{name: "vector matching", expr: `dllm_g < dllm_g and on (namespace) group_left () dllm_g offset 5m`},
		{name: "unknown metric", expr: `rate(dllm_b_total[5m])`, want: []string{"unknown metric dllm_b_total"}},
		{name: "histogram without suffix", expr: `histogram_quantile(0.5, rate(dllm_h[5m]))`, want: []string{"unknown metric dllm_h", "rate of dllm_h, which is not a counter"}},
		{name: "rate of a gauge", expr: `rate(dllm_g[5m])`, want: []string{"rate of dllm_g, which is not a counter"}},
		{name: "unbalanced", expr: `sum(rate(dllm_a_total[5m])`, want: []string{"1 unclosed brackets"}},
		{name: "mismatched", expr: `sum(dllm_g]`, want: []string{"unbalanced ']' at offset 10"}},
		{name: "no metric", expr: `vector(1)`, want: []string{"no metric"}},
		{name: "empty", expr: ` `, want: []string{"empty expression"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := checkExpr(tc.expr, known)
			if strings.Join(got, "; ") != strings.Join(tc.want, "; ") {
				t.Errorf("checkExpr(%q) = %q, want %q", tc.expr, got, tc.want)
			}
		})
	}
}
