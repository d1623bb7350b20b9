{{- define "carve-service.serviceaccount" -}}
{{- if .Values.serviceAccount.create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "carve-service.serviceAccountName" . }}
  labels:
    {{- include "carve-service.labels" . | nindent 4 }}
  {{- with .Values.serviceAccount.roleArn }}
  annotations:
    # IRSA: pods of this ServiceAccount assume this IAM role (EKS pod identity webhook).
    eks.amazonaws.com/role-arn: {{ . | quote }}
  {{- end }}
automountServiceAccountToken: false
{{- end -}}
{{- end -}}
