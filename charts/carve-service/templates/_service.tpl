{{- define "carve-service.service" -}}
{{- if .Values.service.enabled -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "carve-service.fullname" . }}
  labels:
    {{- include "carve-service.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  selector:
    {{- include "carve-service.selectorLabels" . | nindent 4 }}
  ports:
    - name: {{ .Values.portName }}
      port: {{ .Values.service.port }}
      targetPort: {{ .Values.portName }}
      protocol: TCP
    {{- if hasKey .Values "admin" }}
    - name: admin
      port: {{ .Values.admin.port }}
      targetPort: admin
      protocol: TCP
    {{- end }}
{{- end -}}
{{- end -}}
