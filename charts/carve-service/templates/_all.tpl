{{/*
Everything a Carve deployable needs, in one include. A thin chart's templates/carve.yaml is
`{{ include "carve-service.all" . }}`; each part renders only when its values turn it on.
*/}}
{{- define "carve-service.all" -}}
{{- $parts := list "serviceaccount" "configmap" "routes" "service" "deployment" "hpa" "pdb" "networkpolicy" "servicemonitor" "prometheusRule" "dashboards" "ingress" "kafkaTopicsJob" -}}
{{- range $parts }}
{{- $doc := include (printf "carve-service.%s" .) $ | trim -}}
{{- if $doc }}
---
{{ $doc }}
{{- end }}
{{- end }}
{{- end -}}
