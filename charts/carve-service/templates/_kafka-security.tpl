{{/*
Kafka client security (docs/events.md, "Kafka security"): the non-secret variables, as
`NAME: "value"` lines (the ConfigMap takes them as they are; the topics Job, which runs before
the ConfigMap exists, turns them into env entries), and the TLS files from existingSecret
mounted read-only at /etc/carve/kafka-tls. SCRAM credentials come through secretEnv
(KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD); MSK IAM through the pod's IAM role (IRSA).
*/}}
{{- define "carve-service.kafkaTlsDir" -}}/etc/carve/kafka-tls{{- end -}}

{{- define "carve-service.kafkaSecurityEnv" -}}
{{- $k := .Values.config.kafka -}}
{{- $dir := include "carve-service.kafkaTlsDir" . -}}
{{- if $k.ssl }}
KAFKA_SSL: "true"
{{- end }}
{{- if ne $k.saslMechanism "none" }}
KAFKA_SASL_MECHANISM: {{ $k.saslMechanism | quote }}
{{- end }}
{{- with $k.awsRegion }}
KAFKA_AWS_REGION: {{ . | quote }}
{{- end }}
{{- if $k.caSecretKey }}
KAFKA_SSL_CA_FILE: {{ printf "%s/ca.pem" $dir | quote }}
{{- end }}
{{- if $k.clientCertSecretKey }}
KAFKA_SSL_CERT_FILE: {{ printf "%s/client.pem" $dir | quote }}
KAFKA_SSL_KEY_FILE: {{ printf "%s/client.key" $dir | quote }}
{{- end }}
{{- end -}}

{{/* True when a TLS file comes from the Secret (a volume to mount). */}}
{{- define "carve-service.hasKafkaTlsFiles" -}}
{{- if or .Values.config.kafka.caSecretKey .Values.config.kafka.clientCertSecretKey -}}true{{- end -}}
{{- end -}}

{{- define "carve-service.kafkaTlsVolume" -}}
{{- $k := .Values.config.kafka -}}
- name: kafka-tls
  secret:
    secretName: {{ .Values.existingSecret }}
    # 0440 (octal), written in decimal: YAML 1.2 reads 0440 as the decimal 440
    defaultMode: 288
    items:
      {{- with $k.caSecretKey }}
      - key: {{ . }}
        path: ca.pem
      {{- end }}
      {{- if $k.clientCertSecretKey }}
      - key: {{ $k.clientCertSecretKey }}
        path: client.pem
      - key: {{ $k.clientKeySecretKey }}
        path: client.key
      {{- end }}
{{- end -}}

{{- define "carve-service.kafkaTlsMount" -}}
- name: kafka-tls
  mountPath: {{ include "carve-service.kafkaTlsDir" . }}
  readOnly: true
{{- end -}}
