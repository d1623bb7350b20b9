{{/*
A default deny for the pods, in and out, then what is listed. Ingress: the main port only from
the allowed pods (by default the gateway and the monolith) and CIDRs (the gateway's load
balancer), the admin port only from networkPolicy.adminFrom, and the metrics port (the admin
port where there is one: the gateway's /metrics lives there) from the monitoring namespace.
Egress: the cluster DNS, Postgres, the Kafka brokers (with transport kafka), the pods it calls
(the gateway's upstreams), the OpenTelemetry collector (while tracing is on) and
networkPolicy.egress.extra; nothing else.
*/}}
{{- define "carve-service.networkpolicy" -}}
{{- if .Values.networkPolicy.enabled -}}
{{- $np := .Values.networkPolicy -}}
{{- $eg := $np.egress -}}
{{- $metricsPort := ternary "admin" .Values.portName (hasKey .Values "admin") -}}
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
    - Egress
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
        - port: {{ $metricsPort }}
          protocol: TCP
    {{- end }}
  {{- end }}
  egress:
    # The cluster DNS.
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ $eg.dnsNamespace }}
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    {{- if $eg.postgres.cidrs }}
    # Postgres.
    - to:
        {{- range $eg.postgres.cidrs }}
        - ipBlock:
            cidr: {{ . }}
        {{- end }}
      ports:
        - port: {{ $eg.postgres.port }}
          protocol: TCP
    {{- end }}
    {{- if and (eq .Values.config.transport "kafka") $eg.kafka.cidrs }}
    # The Kafka brokers.
    - to:
        {{- range $eg.kafka.cidrs }}
        - ipBlock:
            cidr: {{ . }}
        {{- end }}
      ports:
        {{- range $eg.kafka.ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- end }}
    {{- range $eg.pods }}
    - to:
        - podSelector:
            matchLabels:
              {{- toYaml .labels | nindent 14 }}
      ports:
        - port: {{ .port }}
          protocol: TCP
    {{- end }}
    {{- if and .Values.config.tracing.endpoint $eg.collector.namespace }}
    # The OpenTelemetry collector's OTLP/HTTP receiver.
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ $eg.collector.namespace }}
          {{- with $eg.collector.podLabels }}
          podSelector:
            matchLabels:
              {{- toYaml . | nindent 14 }}
          {{- end }}
      ports:
        - port: {{ $eg.collector.port }}
          protocol: TCP
    {{- end }}
    {{- range $eg.extra }}
    - to:
        - ipBlock:
            cidr: {{ .cidr }}
      ports:
        {{- range .ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- end }}
{{- end -}}
{{- end -}}
