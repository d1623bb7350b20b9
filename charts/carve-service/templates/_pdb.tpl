{{/* Only when more than one pod runs: a PDB over a single replica would block node drains. */}}
{{- define "carve-service.pdb" -}}
{{- if gt (int (include "carve-service.minReplicas" .)) 1 -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "carve-service.fullname" . }}
  labels:
    {{- include "carve-service.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "carve-service.selectorLabels" . | nindent 6 }}
{{- end -}}
{{- end -}}
