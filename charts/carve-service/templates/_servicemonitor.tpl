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
    - port: {{ .Values.portName }}
      path: /metrics
      interval: {{ .Values.serviceMonitor.interval }}
      scrapeTimeout: {{ .Values.serviceMonitor.scrapeTimeout }}
{{- end -}}
{{- end -}}
