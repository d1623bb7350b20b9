{{/* Non-secret environment, one key per variable. Secrets never appear here. */}}
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
