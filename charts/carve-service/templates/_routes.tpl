{{/* The gateway's route table, from the thin chart's routes/<environment>.yaml. */}}
{{- define "carve-service.routesContent" -}}
{{- $file := printf "routes/%s.yaml" .Values.environment -}}
{{- $content := .Files.Get $file -}}
{{- if not $content -}}
{{- fail (printf "route table %s is missing or empty in chart %s: add it, or pick another environment" $file .Chart.Name) -}}
{{- end -}}
{{- $content -}}
{{- end -}}

{{- define "carve-service.routes" -}}
{{- if include "carve-service.hasRoutes" . -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "carve-service.fullname" . }}-routes
  labels:
    {{- include "carve-service.labels" . | nindent 4 }}
data:
  routes.yaml: |
    {{- include "carve-service.routesContent" . | nindent 4 }}
{{- end -}}
{{- end -}}
