{{/* AWS Load Balancer Controller Ingress: an ALB terminating TLS with an ACM certificate. */}}
{{- define "carve-service.ingress" -}}
{{- if and (hasKey .Values "ingress") .Values.ingress.enabled -}}
{{- $ing := .Values.ingress -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "carve-service.fullname" . }}
  labels:
    {{- include "carve-service.labels" . | nindent 4 }}
  annotations:
    alb.ingress.kubernetes.io/scheme: {{ $ing.scheme }}
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTP":80},{"HTTPS":443}]'
    alb.ingress.kubernetes.io/ssl-redirect: "443"
    alb.ingress.kubernetes.io/certificate-arn: {{ $ing.certificateArn | quote }}
    alb.ingress.kubernetes.io/ssl-policy: {{ $ing.sslPolicy | quote }}
    alb.ingress.kubernetes.io/healthcheck-path: /readyz
    alb.ingress.kubernetes.io/success-codes: "200"
    # Deregister no later than the pod's preStop pause ends, so no request meets a closed socket.
    alb.ingress.kubernetes.io/target-group-attributes: {{ printf "deregistration_delay.timeout_seconds=%d" (int .Values.shutdown.preStopSleepSeconds) | quote }}
    {{- with $ing.groupName }}
    alb.ingress.kubernetes.io/group.name: {{ . | quote }}
    {{- end }}
    {{- with $ing.annotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  ingressClassName: {{ $ing.className }}
  rules:
    - host: {{ $ing.host | quote }}
      http:
        # Only the API's prefixes: every other path (the gateway's /healthz and /readyz, an
        # upstream's own paths) is not reachable from outside.
        paths:
          {{- range $ing.paths }}
          - path: {{ . }}
            pathType: Prefix
            backend:
              service:
                name: {{ include "carve-service.fullname" $ }}
                port:
                  name: {{ $.Values.portName }}
          {{- end }}
{{- end -}}
{{- end -}}
