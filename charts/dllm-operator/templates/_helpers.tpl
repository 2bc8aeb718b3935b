{{/* Names and labels shared by the chart's objects. */}}

{{- define "dllm-operator.name" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "dllm-operator.serviceAccountName" -}}
{{- default (printf "%s-controller-manager" (include "dllm-operator.name" .)) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "dllm-operator.labels" -}}
app.kubernetes.io/name: dllm-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "dllm-operator.selectorLabels" -}}
app.kubernetes.io/name: dllm-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end -}}

{{- define "dllm-operator.image" -}}
{{- printf "%s:%s" .Values.manager.image.repository (default .Chart.AppVersion .Values.manager.image.tag) -}}
{{- end -}}
