{{- define "carve-service.probe" -}}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
{{- with .timing }}
{{- if .initialDelaySeconds }}
initialDelaySeconds: {{ .initialDelaySeconds }}
{{- end }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
{{- end }}
{{- end -}}

{{- define "carve-service.deployment" -}}
{{- $fullname := include "carve-service.fullname" . -}}
{{- $port := .Values.portName -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "carve-service.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: {{ .Values.strategy.type }}
    {{- if eq .Values.strategy.type "RollingUpdate" }}
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
    {{- end }}
  selector:
    matchLabels:
      {{- include "carve-service.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "carve-service.labels" . | nindent 8 }}
      annotations:
        checksum/config: {{ include "carve-service.configChecksum" . }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "carve-service.serviceAccountName" . }}
      # IRSA mounts its own projected token; the Kubernetes API token is not needed.
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ include "carve-service.terminationGracePeriodSeconds" . }}
      securityContext:
        {{- include "carve-service.podSecurityContext" . | nindent 8 }}
      {{- if .Values.migrations.enabled }}
      initContainers:
        # Runs the migrations (under the Postgres advisory lock the app's migrate command takes)
        # before this version serves. Init containers run once per pod, in parallel across pods.
        - name: migrations
          image: {{ include "carve-service.image" .Values.image | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          command: {{ toJson .Values.migrations.command }}
          envFrom:
            - configMapRef:
                name: {{ $fullname }}-env
          {{- with .Values.migrations.secretEnv }}
          env:
            {{- include "carve-service.secretEnv" (dict "secret" $.Values.existingSecret "env" .) | trim | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml .Values.migrations.resources | nindent 12 }}
          securityContext:
            {{- include "carve-service.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      {{- end }}
      containers:
        - name: {{ include "carve-service.name" . }}
          image: {{ include "carve-service.image" .Values.image | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          command: {{ toJson .Values.command }}
          ports:
            - name: {{ $port }}
              containerPort: {{ .Values.port }}
              protocol: TCP
            {{- if hasKey .Values "admin" }}
            - name: admin
              containerPort: {{ .Values.admin.port }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ $fullname }}-env
          {{- with .Values.secretEnv }}
          env:
            {{- include "carve-service.secretEnv" (dict "secret" $.Values.existingSecret "env" .) | trim | nindent 12 }}
          {{- end }}
          startupProbe:
            {{- include "carve-service.probe" (dict "path" "/healthz" "port" $port "timing" .Values.probes.startup) | nindent 12 }}
          readinessProbe:
            {{- include "carve-service.probe" (dict "path" "/readyz" "port" $port "timing" .Values.probes.readiness) | nindent 12 }}
          livenessProbe:
            {{- include "carve-service.probe" (dict "path" "/healthz" "port" $port "timing" .Values.probes.liveness) | nindent 12 }}
          lifecycle:
            # Keep serving while endpoints and the load balancer stop sending new requests;
            # SIGTERM (and the app's drain) comes after this pause.
            preStop:
              sleep:
                seconds: {{ .Values.shutdown.preStopSleepSeconds }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- include "carve-service.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if include "carve-service.hasRoutes" . }}
            - name: routes
              mountPath: {{ .Values.routes.mountPath }}
              readOnly: true
            {{- end }}
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
        {{- if include "carve-service.hasRoutes" . }}
        # Mounted as a directory (no subPath) so an edited ConfigMap reaches the running pods.
        - name: routes
          configMap:
            name: {{ $fullname }}-routes
        {{- end }}
      {{- if and .Values.topologySpread.enabled (gt (int (include "carve-service.minReplicas" .)) 1) }}
      topologySpreadConstraints:
        - maxSkew: {{ .Values.topologySpread.maxSkew }}
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "carve-service.selectorLabels" . | nindent 14 }}
        - maxSkew: {{ .Values.topologySpread.maxSkew }}
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "carve-service.selectorLabels" . | nindent 14 }}
      {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}
