{{/*
Chart name, cut at 63 characters (the DNS label limit).
*/}}
{{- define "sessiond.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, cut at 63 characters. A release name that already
contains the chart name is used as is.
*/}}
{{- define "sessiond.fullname" -}}
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

{{/*
Chart name and version, as used by the helm.sh/chart label.
*/}}
{{- define "sessiond.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "sessiond.labels" -}}
helm.sh/chart: {{ include "sessiond.chart" . }}
{{ include "sessiond.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sessiond
{{- end }}

{{/*
Selector labels: name and instance only, so they never change on upgrade.
*/}}
{{- define "sessiond.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sessiond.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount the pods use.
*/}}
{{- define "sessiond.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sessiond.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: repository@digest when a digest is set, else repository:tag
(tag defaulting to the chart's appVersion).
*/}}
{{- define "sessiond.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Does the store need credentials (a Redis URL, a Neo4j password)?
*/}}
{{- define "sessiond.storeNeedsSecret" -}}
{{- if ne .Values.store.type "memory" }}true{{ end }}
{{- end }}

{{/*
Name of the Secret with the store credentials: existingSecret or the chart's own.
*/}}
{{- define "sessiond.storeSecretName" -}}
{{- .Values.store.existingSecret | default (printf "%s-store" (include "sessiond.fullname" . | trunc 57 | trimSuffix "-")) }}
{{- end }}

{{/*
Does the chart create the store Secret?
*/}}
{{- define "sessiond.createStoreSecret" -}}
{{- if and (include "sessiond.storeNeedsSecret" .) (not .Values.store.existingSecret) }}true{{ end }}
{{- end }}

{{/*
Name of the Secret holding the client CA for mutual TLS.
*/}}
{{- define "sessiond.clientCASecretName" -}}
{{- .Values.tls.clientAuth.caSecretName | default .Values.tls.secretName }}
{{- end }}

{{/*
terminationGracePeriodSeconds: longer than the preStop sleep plus the drain, so
the kubelet never SIGKILLs a pod that is still finishing calls.
*/}}
{{- define "sessiond.terminationGracePeriodSeconds" -}}
{{- $floor := add (int .Values.preStopSleepSeconds) (ceil .Values.shutdownGrace | int) }}
{{- if .Values.terminationGracePeriodSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) $floor }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed preStopSleepSeconds + shutdownGrace (%v)" .Values.terminationGracePeriodSeconds $floor) }}
{{- end }}
{{- .Values.terminationGracePeriodSeconds }}
{{- else }}
{{- add $floor 5 }}
{{- end }}
{{- end }}

{{/*
Name of the label that lets a pod through the NetworkPolicy when
allowExternal is false.
*/}}
{{- define "sessiond.clientLabel" -}}
{{- printf "%s-client" (include "sessiond.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A value as an environment string. Helm reads numbers from YAML as float64,
which would print 1000000 as 1e+06; whole numbers are printed as integers.
*/}}
{{- define "sessiond.envValue" -}}
{{- if and (kindIs "float64" .) (eq . (float64 (int64 .))) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
The "from" of the gRPC port's NetworkPolicy rule: nothing (any peer) when
allowExternal, else the client-labelled pods and extraIngressFrom.
*/}}
{{- define "sessiond.grpcPeers" -}}
{{- if not .Values.networkPolicy.allowExternal -}}
from:
  - podSelector:
      matchLabels:
        {{ include "sessiond.clientLabel" . }}: "true"
  {{- with .Values.networkPolicy.extraIngressFrom }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end }}
