{{/*
Ingress to this deployable's pods: its main port only from the allowed pods (by default the
gateway and the monolith) and CIDRs (the gateway's load balancer), the admin port only from
networkPolicy.adminFrom, and the metrics port from the monitoring namespace. Egress is open.
*/}}
{{- define "carve-service.networkpolicy" -}}
{{- if .Values.networkPolicy.enabled -}}
{{- $np := .Values.networkPolicy -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "carve-service.fullname" . }}
  labels:
    {{- include "carve-service.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "carve-service.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
  {{- $rules := or $np.allowFrom $np.allowCidrs $np.monitoringNamespace (and (hasKey .Values "admin") $np.adminFrom) }}
  {{- if not $rules }}
  ingress: []
  {{- else }}
  ingress:
    {{- if or $np.allowFrom $np.allowCidrs }}
    - from:
        {{- range $np.allowFrom }}
        - podSelector:
            matchLabels:
              {{- toYaml . | nindent 14 }}
        {{- end }}
        {{- range $np.allowCidrs }}
        - ipBlock:
            cidr: {{ . }}
        {{- end }}
      ports:
        - port: {{ .Values.portName }}
          protocol: TCP
    {{- end }}
    {{- if and (hasKey .Values "admin") $np.adminFrom }}
    - from:
        {{- range $np.adminFrom }}
        - podSelector:
            matchLabels:
              {{- toYaml . | nindent 14 }}
        {{- end }}
      ports:
        - port: admin
          protocol: TCP
    {{- end }}
    {{- with $np.monitoringNamespace }}
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ . }}
      ports:
        - port: {{ $.Values.portName }}
          protocol: TCP
    {{- end }}
  {{- end }}
{{- end -}}
{{- end -}}
