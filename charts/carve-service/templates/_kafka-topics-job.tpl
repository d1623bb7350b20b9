{{/*
Helm hook Job creating the Kafka topics before install and upgrade (`carve kafka ensure-topics`
is idempotent). Hooks run before the release's own ConfigMap and ServiceAccount exist, so the
Job carries its non-secret env inline and runs under the namespace's default ServiceAccount
(or kafkaTopics.serviceAccountName); secrets still come from the pre-existing Secret.
*/}}
{{- define "carve-service.kafkaTopicsJob" -}}
{{- if and (hasKey .Values "kafkaTopics") .Values.kafkaTopics.enabled (eq .Values.config.transport "kafka") -}}
{{- $job := .Values.kafkaTopics -}}
{{- $image := dict "repository" $job.image.repository "tag" (default .Values.image.tag $job.image.tag) -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "carve-service.fullname" . }}-kafka-topics
  labels:
    {{- include "carve-service.labels" . | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ $job.backoffLimit }}
  activeDeadlineSeconds: {{ $job.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        # Not the Deployment's selector labels: the Service must never send traffic to this pod.
        app.kubernetes.io/name: {{ printf "%s-kafka-topics" (include "carve-service.name" .) | trunc 63 | trimSuffix "-" }}
        app.kubernetes.io/instance: {{ .Release.Name }}
        app.kubernetes.io/component: kafka-topics
        app.kubernetes.io/part-of: carve
    spec:
      restartPolicy: Never
      {{- with $job.serviceAccountName }}
      serviceAccountName: {{ . }}
      {{- end }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- include "carve-service.podSecurityContext" . | nindent 8 }}
      containers:
        - name: kafka-topics
          image: {{ include "carve-service.image" $image | quote }}
          imagePullPolicy: {{ $job.image.pullPolicy }}
          command: {{ toJson $job.command }}
          env:
            - name: PLATFORM
              value: "kubernetes"
            - name: LOG_LEVEL
              value: {{ .Values.config.logLevel | quote }}
            - name: CARVE_TRANSPORT
              value: {{ .Values.config.transport | quote }}
            - name: KAFKA_BROKERS
              value: {{ .Values.config.kafkaBrokers | quote }}
            {{- range $name, $value := fromYaml (include "carve-service.kafkaSecurityEnv" .) }}
            - name: {{ $name }}
              value: {{ $value | quote }}
            {{- end }}
            {{- with $job.secretEnv }}
            {{- include "carve-service.secretEnv" (dict "secret" $.Values.existingSecret "env" .) | trim | nindent 12 }}
            {{- end }}
          resources:
            {{- toYaml $job.resources | nindent 12 }}
          securityContext:
            {{- include "carve-service.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if include "carve-service.hasKafkaTlsFiles" . }}
            {{- include "carve-service.kafkaTlsMount" . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ .Values.tmpSizeLimit }}
        {{- if include "carve-service.hasKafkaTlsFiles" . }}
        {{- include "carve-service.kafkaTlsVolume" . | nindent 8 }}
        {{- end }}
{{- end -}}
{{- end -}}
