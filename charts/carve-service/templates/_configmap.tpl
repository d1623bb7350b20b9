{{/* Non-secret environment, one key per variable. Secrets never appear here. The OTEL_* variables only
     while config.tracing.endpoint is set: tracing is off without them. */}}
{{- define "carve-service.configData" -}}
PLATFORM: "kubernetes"
PORT: {{ .Values.port | quote }}
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
CARVE_TRANSPORT: {{ .Values.config.transport | quote }}
{{- with .Values.config.kafkaBrokers }}
KAFKA_BROKERS: {{ . | quote }}
{{- end }}
{{- include "carve-service.kafkaSecurityEnv" . }}
{{- if hasKey .Values "admin" }}
CARVE_ADMIN_PORT: {{ .Values.admin.port | quote }}
CARVE_ADMIN_HOST: {{ .Values.admin.host | quote }}
{{- end }}
{{- if hasKey .Values "workers" }}
CARVE_GATEWAY_WORKERS: {{ .Values.workers | quote }}
{{- end }}
{{- if include "carve-service.hasRoutes" . }}
CARVE_ROUTES_FILE: {{ include "carve-service.routesFile" . | quote }}
{{- end }}
{{- with .Values.config.jwt }}
{{- with .jwksUrl }}
CARVE_JWT_JWKS_URL: {{ . | quote }}
{{- end }}
{{- with .issuer }}
CARVE_JWT_ISSUER: {{ . | quote }}
{{- end }}
{{- with .audience }}
CARVE_JWT_AUDIENCE: {{ . | quote }}
{{- end }}
{{- end }}
{{- with .Values.config.tracing }}
{{- if .endpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ .endpoint | quote }}
OTEL_TRACES_SAMPLER: {{ .sampler | quote }}
OTEL_TRACES_SAMPLER_ARG: {{ .samplerArg | toString | quote }}
{{- $attrs := list (printf "deployment.environment.name=%s" $.Values.environment) }}
{{- range $key, $value := .resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%s" $key $value) }}
{{- end }}
OTEL_RESOURCE_ATTRIBUTES: {{ join "," $attrs | quote }}
{{- end }}
{{- end }}
{{- range $name, $value := .Values.config.extraEnv }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{- define "carve-service.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "carve-service.fullname" . }}-env
  labels:
    {{- include "carve-service.labels" . | nindent 4 }}
data:
  {{- include "carve-service.configData" . | nindent 2 }}
{{- end -}}
