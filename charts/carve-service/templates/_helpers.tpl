{{/*
Names and labels. Every template here is called with the thin chart's root context, so
.Chart, .Values and .Files are the thin chart's own.
*/}}

{{- define "carve-service.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "carve-service.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "carve-service.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "carve-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "carve-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "carve-service.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "carve-service.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | trunc 63 | trimSuffix "-" | trimSuffix "." | trimSuffix "_" | quote }}
app.kubernetes.io/part-of: carve
app.kubernetes.io/managed-by: {{ .Release.Service }}
carve.dev/environment: {{ .Values.environment }}
{{- end -}}

{{- define "carve-service.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "carve-service.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "carve-service.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{/* The lowest replica count the workload runs at: minReplicas under an HPA, else replicaCount. */}}
{{- define "carve-service.minReplicas" -}}
{{- if .Values.autoscaling.enabled -}}
{{- .Values.autoscaling.minReplicas -}}
{{- else -}}
{{- .Values.replicaCount -}}
{{- end -}}
{{- end -}}

{{/* Grace period: the preStop pause, then the app's own drain, plus a margin before SIGKILL. */}}
{{- define "carve-service.terminationGracePeriodSeconds" -}}
{{- add .Values.shutdown.preStopSleepSeconds .Values.shutdown.drainSeconds 10 -}}
{{- end -}}

{{/*
Env vars read from the existing Secret, by reference only: (dict "secret" NAME "env" MAP)
where MAP is ENV_VAR -> key in the Secret. The values never pass through Helm.
*/}}
{{- define "carve-service.secretEnv" -}}
{{- $secret := .secret -}}
{{- range $name, $key := .env }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
      optional: false
{{- end }}
{{- end -}}

{{- define "carve-service.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "carve-service.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* True (non-empty) when the chart ships a gateway route table. */}}
{{- define "carve-service.hasRoutes" -}}
{{- if hasKey .Values "routes" -}}true{{- end -}}
{{- end -}}

{{- define "carve-service.routesFile" -}}
{{- printf "%s/routes.yaml" (trimSuffix "/" .Values.routes.mountPath) -}}
{{- end -}}

{{/*
What rolls the pods when configuration changes: the env ConfigMap and, for the gateway, the
route table. Only the data is hashed, so a new image tag alone does not count as config.
*/}}
{{- define "carve-service.configChecksum" -}}
{{- $cfg := include "carve-service.configData" . -}}
{{- if include "carve-service.hasRoutes" . -}}
{{- $cfg = printf "%s\n---\n%s" $cfg (include "carve-service.routesContent" .) -}}
{{- end -}}
{{- $cfg | sha256sum -}}
{{- end -}}
