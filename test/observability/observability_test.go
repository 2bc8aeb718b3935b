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
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"dllm.dev/dllm-operator/runtime/contract"
)

const (
	dashboardFile = "../../config/observability/grafana-dashboard.json"
	rulesFile     = "../../config/observability/prometheusrule.yaml"
)

// metricFiles declare the runtime's and the operator's metric names.
var metricFiles = []string{"../../runtime/contract/metrics.go", "../../controllers/metrics.go"}

// The operator's metric the dashboard promises; knownMetrics reads it from controllers/metrics.go,
// so a rename there fails these tests.
const operatorDecisions = "dllm_operator_autotune_decisions_total"

// promised are the series the dashboard's panels are documented to show.
var promised = []string{
	contract.MetricRequestDuration + "_bucket",
	contract.MetricRequestDuration + "_count",
	contract.MetricQueueWait + "_bucket",
	contract.MetricGeneratedTokens,
	contract.MetricSaturation,
	contract.MetricQueueDepth,
	contract.MetricInFlight,
	contract.MetricCacheRefreshes,
	contract.MetricCacheTokensReused,
	contract.MetricCacheTokensRecomputed,
	contract.MetricFLOPsSaved,
	contract.MetricFLOPsSpent,
	contract.MetricShadowTokenAgreement + "_sum",
	contract.MetricShadowTokenAgreement + "_count",
	contract.MetricShadowTokensAgreed,
	contract.MetricShadowTokensCompared,
	contract.MetricCacheSettings,
	operatorDecisions,
	"kube_deployment_status_replicas_available",
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Datasource  *datasource `json:"datasource"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		Expr       string      `json:"expr"`
		RefID      string      `json:"refId"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	// Panels are a collapsed row's panels.
	Panels []panel `json:"panels"`
}

type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string      `json:"name"`
			Type       string      `json:"type"`
			Query      string      `json:"query"`
			Datasource *datasource `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

// wantDatasource is how every panel and query names the data source: the template variable.
var wantDatasource = datasource{Type: "prometheus", UID: "${datasource}"}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// The dashboard imports into Grafana with a data source variable, and every panel queries
// only series that exist, through the data source variable, with a title and a unit.
func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	known := knownMetrics(t, metricFiles...)
	if d.SchemaVersion != 39 || d.UID == "" || d.Title == "" {
		t.Errorf("schemaVersion %d, uid %q, title %q; want schema 39, a uid and a title", d.SchemaVersion, d.UID, d.Title)
	}

	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		switch v.Type {
		case "datasource":
			if v.Query != "prometheus" {
				t.Errorf("variable %s: query %q, want prometheus", v.Name, v.Query)
			}
		case "query":
			if v.Datasource == nil || *v.Datasource != wantDatasource {
				t.Errorf("variable %s: datasource %+v, want %+v", v.Name, v.Datasource, wantDatasource)
			}
			m := labelValues.FindStringSubmatch(v.Query)
			if m == nil {
				t.Errorf("variable %s: query %q is not label_values(series, label)", v.Name, v.Query)
				continue
			}
			if problems := checkExpr(m[1], known); len(problems) > 0 {
				t.Errorf("variable %s: %q: %s", v.Name, v.Query, strings.Join(problems, "; "))
			}
		}
	}
	for name, typ := range map[string]string{"datasource": "datasource", "namespace": "query", "service": "query"} {
		if vars[name] != typ {
			t.Errorf("variable %s has type %q, want %q", name, vars[name], typ)
		}
	}

	var all []panel
	for _, p := range d.Panels {
		all = append(all, p)
		all = append(all, p.Panels...)
	}
	used := map[string]bool{}
	ids := map[int]string{}
	for _, p := range all {
		if other, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share the id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" {
			continue
		}
		if p.Title == "" || p.Description == "" || p.FieldConfig.Defaults.Unit == "" {
			t.Errorf("panel %d %q: title, description and unit are required (unit %q)", p.ID, p.Title, p.FieldConfig.Defaults.Unit)
		}
		if p.Datasource == nil || *p.Datasource != wantDatasource {
			t.Errorf("panel %q: datasource %+v, want %+v", p.Title, p.Datasource, wantDatasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, q := range p.Targets {
			if q.Datasource == nil || *q.Datasource != wantDatasource {
				t.Errorf("panel %q, query %s: datasource %+v, want %+v", p.Title, q.RefID, q.Datasource, wantDatasource)
			}
			names, _ := metricNames(q.Expr)
			for _, n := range names {
				used[n] = true
			}
			if problems := checkExpr(q.Expr, known); len(problems) > 0 {
				t.Errorf("panel %q, query %s: %s\n%s", p.Title, q.RefID, strings.Join(problems, "; "), q.Expr)
				continue
			}
			for _, problem := range selectorProblems(q.Expr) {
				t.Errorf("panel %q, query %s: %s", p.Title, q.RefID, problem)
			}
		}
	}
	for _, name := range promised {
		if !used[name] {
			t.Errorf("no panel queries %s", name)
		}
	}
}

// selectorProblems reports series of a dashboard query that do not select on the dashboard's
// variables: the runtime's by its scrape target's namespace and service, the operator's by the
// DLLMService's labels as a default scrape renames them, kube-state-metrics' Deployments by
// namespace and name (the DLLMService's).
func selectorProblems(expr string) []string {
	names, _ := metricNames(expr)
	selectors := selector.FindAllStringSubmatch(expr, -1)
	if len(selectors) != len(names) {
		return []string{"every series needs label matchers"}
	}
	var problems []string
	for _, s := range selectors {
		var want []string
		switch name := s[1]; {
		case strings.HasPrefix(name, "dllm_operator_"):
			want = []string{`exported_namespace=~"$namespace"`, `exported_service=~"$service"`}
		case strings.HasPrefix(name, "dllm_"):
			want = []string{`namespace=~"$namespace"`, `service=~"$service"`}
		case strings.HasPrefix(name, "kube_deployment_"):
			want = []string{`namespace=~"$namespace"`, `deployment=~"$service"`}
		}
		matchers := strings.Split(s[2], ",")
		for i := range matchers {
			matchers[i] = strings.TrimSpace(matchers[i])
		}
		for _, w := range want {
			if !slices.Contains(matchers, w) {
				problems = append(problems, s[1]+" does not select "+w)
			}
		}
	}
	return problems
}

type prometheusRule struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// The PrometheusRule holds the four alerts, each complete and on series that exist.
func TestPrometheusRule(t *testing.T) {
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var r prometheusRule
	if err := yaml.UnmarshalStrict(raw, &r); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	if r.APIVersion != "monitoring.coreos.com/v1" || r.Kind != "PrometheusRule" || r.Metadata.Name != "dllm-operator-alerts" {
		t.Errorf("%s %s %s, want monitoring.coreos.com/v1 PrometheusRule dllm-operator-alerts", r.APIVersion, r.Kind, r.Metadata.Name)
	}
	known := knownMetrics(t, metricFiles...)
	var alerts []string
	for _, g := range r.Spec.Groups {
		for _, rule := range g.Rules {
			alerts = append(alerts, rule.Alert)
			if problems := checkExpr(rule.Expr, known); len(problems) > 0 {
				t.Errorf("%s: %s\n%s", rule.Alert, strings.Join(problems, "; "), rule.Expr)
			}
			if d, err := time.ParseDuration(rule.For); err != nil || d <= 0 {
				t.Errorf("%s: for %q, want a positive duration", rule.Alert, rule.For)
			}
			if s := rule.Labels["severity"]; s != "warning" && s != "critical" && s != "info" {
				t.Errorf("%s: severity %q, want warning, critical or info", rule.Alert, s)
			}
			for _, key := range []string{"summary", "description"} {
				a := rule.Annotations[key]
				if !strings.Contains(a, "{{ $labels.namespace }}") || !strings.Contains(a, "{{ $labels.service }}") {
					t.Errorf("%s: annotation %s %q does not name {{ $labels.namespace }}/{{ $labels.service }}", rule.Alert, key, a)
				}
			}
		}
	}
	want := []string{"DLLMAutotuneReverting", "DLLMPodsNotReady", "DLLMQualityBelowFloor", "DLLMSaturationHigh"}
	slices.Sort(alerts)
	if !slices.Equal(alerts, want) {
		t.Errorf("alerts %v, want %v", alerts, want)
	}
}
