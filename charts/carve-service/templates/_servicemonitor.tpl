{{/* Prometheus Operator scrape config; rendered only when enabled (the CRD must exist). */}}
{{- define "carve-service.servicemonitor" -}}
{{- if and .Values.serviceMonitor.enabled .Values.service.enabled -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "carve-service.fullname" . }}
  labels:
    {{- include "carve-service.labels" . | nindent 4 }}
    {{- with .Values.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "carve-service.selectorLabels" . | nindent 6 }}
  endpoints:
    {{- if hasKey .Values "admin" }}
    # The gateway's /metrics is on its admin port and needs an operator's token (a viewer's).
    - port: admin
      path: /metrics
      interval: {{ .Values.serviceMonitor.interval }}
      scrapeTimeout: {{ .Values.serviceMonitor.scrapeTimeout }}
      authorization:
        type: Bearer
        credentials:
          name: {{ .Values.existingSecret }}
          key: {{ .Values.serviceMonitor.tokenKey }}
    {{- else }}
    - port: {{ .Values.portName }}
      path: /metrics
      interval: {{ .Values.serviceMonitor.interval }}
      scrapeTimeout: {{ .Values.serviceMonitor.scrapeTimeout }}
    {{- end }}
{{- end -}}
{{- end -}}
