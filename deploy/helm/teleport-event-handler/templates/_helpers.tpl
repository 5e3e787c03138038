{{- define "teh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "teh.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "teh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "teh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "teh.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "teh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- /* Where secrets and the configuration are mounted: whole directories, so that renewed
identities (tbot, rotation) reach the running process, which subPath mounts would not. */ -}}
{{- define "teh.dir" -}}/etc/teleport-event-handler{{- end }}

{{- /* The secret holding the identity file: the user's, or the one tbot writes. */ -}}
{{- define "teh.identitySecret" -}}
{{- if .Values.teleport.identitySecretName }}{{ .Values.teleport.identitySecretName }}
{{- else if .Values.tbot.enabled }}{{ .Values.tbot.identitySecretName | default (printf "%s-tbot-identity" .Release.Name) }}
{{- end }}
{{- end }}

{{- /* Renders a nested map as dotted TOML keys, one per line, in key order: `a.b = <json>`.
JSON strings, numbers, booleans and arrays are valid TOML values. */ -}}
{{- define "teh.toml" -}}
{{- $prefix := .prefix -}}
{{- range $key, $value := .map }}
{{- if kindIs "map" $value }}
{{- include "teh.toml" (dict "prefix" (printf "%s%s." $prefix $key) "map" $value) }}
{{- else if not (kindIs "invalid" $value) }}
{{ printf "%s%s" $prefix $key }} = {{ $value | toJson }}
{{- end }}
{{- end }}
{{- end }}

{{- /* Sets $key in $map to $value unless $value is empty: empty values keep the handler's default. */ -}}
{{- define "teh.set" -}}
{{- if not (empty .value) }}{{ $_ := set .map .key .value }}{{ end }}
{{- end }}

{{- /* eventHandler.storagePath as an absolute path: a volume needs one, and a relative one in the
TOML would resolve against the read-only config directory. Relative paths (the Go tool's configure
writes "./storage") are taken from the image's working directory, /var/lib/teleport-event-handler. */ -}}
{{- define "teh.storagePath" -}}
{{- $path := .Values.eventHandler.storagePath | default "/var/lib/teleport-event-handler" -}}
{{- if hasPrefix "/" $path }}{{ $path }}{{ else }}{{ printf "/var/lib/teleport-event-handler/%s" (trimPrefix "./" $path) | clean }}{{ end }}
{{- end }}
