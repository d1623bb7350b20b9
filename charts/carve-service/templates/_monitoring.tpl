{{/*
Grafana dashboards and Prometheus alerts shipped with a deployable's chart, from the chart's
own files: dashboards/*.json (one ConfigMap carrying the Grafana sidecar's label, which the
sidecar loads into Grafana) and alerts/*.yaml (Prometheus rule groups, one PrometheusRule for
the Prometheus Operator). Each alert names its runbook as a path under docs/ (annotation
`runbook`); it becomes `runbook_url` = prometheusRule.runbookBaseUrl + "/" + that path (docs/<path> when no base is set).
*/}}
{{- define "carve-service.dashboards" -}}
{{- $files := .Files.Glob "dashboards/*.json" -}}
{{- if and .Values.dashboards.enabled $files -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "carve-service.fullname" . }}-dashboards
  labels:
    {{- include "carve-service.labels" . | nindent 4 }}
    {{ .Values.dashboards.sidecarLabel }}: {{ .Values.dashboards.sidecarLabelValue | quote }}
  {{- with .Values.dashboards.folder }}
  annotations:
    grafana_folder: {{ . | quote }}
  {{- end }}
data:
  {{- range $path, $_ := $files }}
  {{ base $path }}: |-
    {{- $.Files.Get $path | nindent 4 }}
  {{- end }}
{{- end -}}
{{- end -}}

{{- define "carve-service.prometheusRule" -}}
{{- $files := .Files.Glob "alerts/*.yaml" -}}
{{- if and .Values.prometheusRule.enabled $files -}}
{{- $base := trimSuffix "/" .Values.prometheusRule.runbookBaseUrl | default "docs" -}}
{{- $groups := list -}}
{{- range $path, $_ := $files -}}
{{- range (fromYaml ($.Files.Get $path)).groups -}}
{{- range .rules -}}
{{- $_ := set .annotations "runbook_url" (printf "%s/%s" $base .annotations.runbook) -}}
{{- $_ := unset .annotations "runbook" -}}
{{- end -}}
{{- $groups = append $groups . -}}
{{- end -}}
{{- end -}}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "carve-service.fullname" . }}
  labels:
    {{- include "carve-service.labels" . | nindent 4 }}
    {{- with .Values.prometheusRule.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:
    {{- toYaml $groups | nindent 4 }}
{{- end -}}
{{- end -}}
