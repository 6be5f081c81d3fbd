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
Where each server keeps its state, as JSON: {name: {env: [{name, secret, key}], postgresql, redis, shared, memory}}.
env: the store URLs, read from Secrets; postgresql/redis: the egress needed; shared: the server's
state is in a shared store (no data volume); memory: its state is in the pod's memory (prolog's
knowledge bases on the memory store).
*/}}
{{- define "mcpfleet.stores" -}}
{{- $st := .Values.stores -}}
{{- range $what, $want := dict "docs" "postgresql" "prolog" "redis" "rateLimits" "redis" -}}
{{- $s := index $st $what -}}
{{- if and (eq $s.type $want) (not $s.urlSecret.name) -}}
{{- fail (printf "stores.%s.type is %s: set stores.%s.urlSecret.name (and .key) to the Secret holding its %s:// URL" $what $want $what $want) -}}
{{- end -}}
{{- end -}}
{{- $limits := list -}}
{{- if eq $st.rateLimits.type "redis" -}}
{{- $limits = list (dict "name" "MCPFLEET_LIMITS__RATE_LIMIT_STORE" "secret" $st.rateLimits.urlSecret.name "key" $st.rateLimits.urlSecret.key) -}}
{{- end -}}
{{- $out := dict -}}
{{- range $name := keys .Values.servers -}}
{{- $e := dict "env" $limits "postgresql" false "redis" (eq $st.rateLimits.type "redis") "shared" false "memory" false -}}
{{- if eq $name "docs" -}}
{{- if eq $st.docs.type "postgresql" -}}
{{- $_ := set $e "env" (append $limits (dict "name" "MCPFLEET_SERVERS__DOCS__STORE" "secret" $st.docs.urlSecret.name "key" $st.docs.urlSecret.key)) -}}
{{- $_ := set $e "postgresql" true -}}
{{- $_ := set $e "shared" true -}}
{{- end -}}
{{- else if eq $name "prolog" -}}
{{- if eq $st.prolog.type "redis" -}}
{{- $_ := set $e "env" (append $limits (dict "name" "MCPFLEET_SERVERS__PROLOG__STORE" "secret" $st.prolog.urlSecret.name "key" $st.prolog.urlSecret.key)) -}}
{{- $_ := set $e "redis" true -}}
{{- $_ := set $e "shared" true -}}
{{- else -}}{{- $_ := set $e "memory" true -}}{{- end -}}
{{- end -}}
{{- $_ := set $out $name $e -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
The units to deploy, as JSON: [{component, serve: [names], internet, dataVolume, postgresql, redis,
storeEnv, local: [names], resources, replicas, autoscaling}]. One per enabled server, or one "all"
unit when combined.enabled. A unit with pod-local state runs one replica without an HPA; asking
for more (replicas or autoscaling on the server, or on combined) fails the render.
*/}}
{{- define "mcpfleet.units" -}}
{{- $v := .Values -}}
{{- $stores := include "mcpfleet.stores" . | fromJson -}}
{{- $units := list -}}
{{- $all := dict "component" "all" "serve" (list) "internet" false "dataVolume" false "postgresql" false "redis" false "storeEnv" (list) "local" (list) -}}
{{- range $name := keys $v.servers | sortAlpha -}}
{{- $s := index $v.servers $name -}}
{{- if $s.enabled -}}
{{- $st := index $stores $name -}}
{{- $data := and (default false $s.dataVolume) (not $st.shared) -}}
{{- $u := dict "component" $name "serve" (list $name) "internet" (default false $s.internet) "dataVolume" $data "postgresql" $st.postgresql "redis" $st.redis "storeEnv" $st.env "local" (ternary (list $name) (list) (or $data $st.memory)) -}}
{{- $as := deepCopy $v.autoscaling -}}
{{- range $k, $val := (default dict $s.autoscaling) }}{{ $_ := set $as $k $val }}{{ end -}}
{{- $_ := set $u "autoscaling" $as -}}
{{- $_ := set $u "resources" (default $v.resources $s.resources) -}}
{{- $_ := set $u "replicas" (default $v.replicas $s.replicas) -}}
{{- $_ := set $u "asked" (dict "replicas" (default 0 $s.replicas) "autoscaling" (default dict $s.autoscaling).enabled "where" (printf "servers.%s" $name)) -}}
{{- $units = append $units $u -}}
{{- $_ := set $all "serve" (append $all.serve $name) -}}
{{- range $k := list "internet" "dataVolume" "postgresql" "redis" -}}
{{- $_ := set $all $k (or (index $all $k) (index $u $k)) -}}
{{- end -}}
{{- $_ := set $all "local" (concat $all.local $u.local) -}}
{{- range $e := $st.env -}}
{{- if not (has $e $all.storeEnv) }}{{ $_ := set $all "storeEnv" (append $all.storeEnv $e) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $v.combined.enabled -}}
{{- $as := deepCopy $v.autoscaling -}}
{{- range $k, $val := (default dict $v.combined.autoscaling) }}{{ $_ := set $as $k $val }}{{ end -}}
{{- $_ := set $all "autoscaling" $as -}}
{{- $_ := set $all "resources" (default $v.resources $v.combined.resources) -}}
{{- $_ := set $all "replicas" (default $v.replicas $v.combined.replicas) -}}
{{- $_ := set $all "asked" (dict "replicas" (default 0 $v.combined.replicas) "autoscaling" (default dict $v.combined.autoscaling).enabled "where" "combined") -}}
{{- $units = list $all -}}
{{- end -}}
{{- range $u := $units -}}
{{- if $u.local -}}
{{- if or (gt (int $u.asked.replicas) 1) $u.asked.autoscaling -}}
{{- fail (printf "%s: %s %s state in the pod (%s), so more than one replica would give different answers per pod. Use shared stores (%s) or set %s.replicas=1 and %s.autoscaling.enabled=false" $u.asked.where (join ", " $u.local) (ternary "keeps" "keep" (eq (len $u.local) 1)) (include "mcpfleet.localStateWhy" $u.local) (include "mcpfleet.sharedStoreHint" $u.local) $u.asked.where $u.asked.where) -}}
{{- end -}}
{{- $_ := set $u "replicas" 1 -}}
{{- $_ := set $u.autoscaling "enabled" false -}}
{{- end -}}
{{- end -}}
{{- toJson $units -}}
{{- end -}}

{{- define "mcpfleet.localStateWhy" -}}
{{- $why := list -}}
{{- range $name := . -}}
{{- $why = append $why (get (dict "docs" "docs: the SQLite index on its data volume" "prolog" "prolog: knowledge bases in memory") $name | default (printf "%s: its data volume" $name)) -}}
{{- end -}}
{{- join "; " $why -}}
{{- end -}}

{{- define "mcpfleet.sharedStoreHint" -}}
{{- $hint := list -}}
{{- range $name := . -}}
{{- $hint = append $hint (get (dict "docs" "stores.docs.type=postgresql" "prolog" "stores.prolog.type=redis") $name | default (printf "none for %s" $name)) -}}
{{- end -}}
{{- join ", " $hint -}}
{{- end -}}
