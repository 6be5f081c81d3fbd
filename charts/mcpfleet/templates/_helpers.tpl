{{/* Chart name and release-scoped names. */}}
{{- define "mcpfleet.name" -}}mcpfleet{{- end -}}

{{- define "mcpfleet.fullname" -}}
{{- if contains "mcpfleet" .Release.Name -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}{{- else -}}{{ printf "%s-mcpfleet" .Release.Name | trunc 50 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "mcpfleet.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "mcpfleet.selectorLabels" -}}
app.kubernetes.io/name: mcpfleet
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "mcpfleet.labels" -}}
{{ include "mcpfleet.selectorLabels" . }}
app.kubernetes.io/part-of: mcpfleet
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* The name of the Secret holding MCPFLEET_AUTH__* entries, or "" when there is none. */}}
{{- define "mcpfleet.authSecret" -}}
{{- if .Values.auth.existingSecret -}}{{ .Values.auth.existingSecret }}
{{- else if or .Values.auth.apiKeys .Values.auth.jwt.jwksUrl -}}{{ include "mcpfleet.fullname" . }}-auth
{{- end -}}
{{- end -}}

{{/*
The units to deploy, as JSON: [{component, serve: [names], internet, dataVolume, resources, replicas, autoscaling}].
One per enabled server, or one "all" unit when combined.enabled.
*/}}
{{- define "mcpfleet.units" -}}
{{- $v := .Values -}}
{{- $units := list -}}
{{- $enabled := list -}}
{{- $internet := false -}}
{{- $data := false -}}
{{- range $name := keys $v.servers | sortAlpha -}}
{{- $s := index $v.servers $name -}}
{{- if $s.enabled -}}
{{- $enabled = append $enabled $name -}}
{{- if $s.internet }}{{ $internet = true }}{{ end -}}
{{- if $s.dataVolume }}{{ $data = true }}{{ end -}}
{{- $as := deepCopy $v.autoscaling -}}
{{- range $k, $val := (default dict $s.autoscaling) }}{{ $_ := set $as $k $val }}{{ end -}}
{{- $units = append $units (dict "component" $name "serve" (list $name) "internet" (default false $s.internet) "dataVolume" (default false $s.dataVolume) "redis" (and (eq $name "prolog") $v.networkPolicy.redis.enabled) "resources" (default $v.resources $s.resources) "replicas" (default $v.replicas $s.replicas) "autoscaling" $as) -}}
{{- end -}}
{{- end -}}
{{- if $v.combined.enabled -}}
{{- $as := deepCopy $v.autoscaling -}}
{{- range $k, $val := (default dict $v.combined.autoscaling) }}{{ $_ := set $as $k $val }}{{ end -}}
{{- $units = list (dict "component" "all" "serve" $enabled "internet" $internet "dataVolume" $data "redis" $v.networkPolicy.redis.enabled "resources" (default $v.resources $v.combined.resources) "replicas" (default $v.replicas $v.combined.replicas) "autoscaling" $as) -}}
{{- end -}}
{{- toJson $units -}}
{{- end -}}
