{{/*
Names and labels. Kubernetes names are at most 63 characters.
*/}}
{{- define "sekisho.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sekisho.fullname" -}}
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

{{- define "sekisho.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sekisho.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sekisho.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sekisho.labels" -}}
helm.sh/chart: {{ include "sekisho.chart" . }}
{{ include "sekisho.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sekisho
{{- end }}

{{- define "sekisho.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sekisho.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sekisho.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
vault.keystore of sekisho.yaml. Secrets are named by environment variable only.
*/}}
{{- define "sekisho.keystore" -}}
{{- $ks := .Values.vault.keystore }}
{{- if eq $ks.kind "file" -}}
kind: file
path: {{ printf "/etc/sekisho/keystore/%s" $ks.file.keyfileSecret.key | quote }}
passphrase_env: SEKISHO_VAULT_PASSPHRASE
{{- else if eq $ks.kind "pkcs11" -}}
kind: pkcs11
library: {{ required "vault.keystore.pkcs11.library is required" $ks.pkcs11.library | quote }}
token_label: {{ required "vault.keystore.pkcs11.tokenLabel is required" $ks.pkcs11.tokenLabel | quote }}
key_label: {{ $ks.pkcs11.keyLabel | quote }}
pin_env: SEKISHO_HSM_PIN
{{- else if eq $ks.kind "external" -}}
kind: external
url: {{ required "vault.keystore.external.url is required" $ks.external.url | quote }}
key_ids:
{{- toYaml $ks.external.keyIds | nindent 2 }}
allowed_hosts:
{{- toYaml $ks.external.allowedHosts | nindent 2 }}
timeout_ms: {{ int $ks.external.timeoutMs }}
{{- if $ks.external.tokenSecret.name }}
token_env: SEKISHO_KEY_SERVICE_TOKEN
{{- end }}
{{- else }}
{{- fail (printf "vault.keystore.kind must be file, pkcs11 or external, not %v" $ks.kind) }}
{{- end }}
{{- end }}

{{/*
Environment variables from Secrets: the keystore's passphrase, PIN or token, the database and
Redis passwords, and secretEnv. Never a value from the chart's values.
*/}}
{{- define "sekisho.secretEnv" -}}
{{- $ks := .Values.vault.keystore }}
{{- if eq $ks.kind "file" }}
- name: SEKISHO_VAULT_PASSPHRASE
  valueFrom:
    secretKeyRef:
      name: {{ required "vault.keystore.file.passphraseSecret.name is required" $ks.file.passphraseSecret.name }}
      key: {{ $ks.file.passphraseSecret.key }}
{{- else if eq $ks.kind "pkcs11" }}
- name: SEKISHO_HSM_PIN
  valueFrom:
    secretKeyRef:
      name: {{ required "vault.keystore.pkcs11.pinSecret.name is required" $ks.pkcs11.pinSecret.name }}
      key: {{ $ks.pkcs11.pinSecret.key }}
{{- else if and (eq $ks.kind "external") $ks.external.tokenSecret.name }}
- name: SEKISHO_KEY_SERVICE_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $ks.external.tokenSecret.name }}
      key: {{ $ks.external.tokenSecret.key }}
{{- end }}
{{- with .Values.postgres.passwordSecret.name }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.postgres.passwordSecret.key }}
{{- end }}
{{- with .Values.redis.passwordSecret.name }}
- name: SEKISHO_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.redis.passwordSecret.key }}
{{- end }}
{{- range .Values.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
{{- end }}
{{- end }}

{{/*
One egress rule: to the entry's ipBlocks and selectors, on its TCP ports. An entry without
any destination gives no rule at all (a rule without `to` would allow every destination).
*/}}
{{- define "sekisho.egressRule" -}}
{{- if or .cidrs .selectors }}
{{- if not .ports }}
{{- fail (printf "networkPolicy.egress: %s needs ports" (default "an entry" .name)) }}
{{- end }}
- to:
    {{- range .cidrs }}
    - ipBlock:
        cidr: {{ . | quote }}
    {{- end }}
    {{- with .selectors }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    {{- range .ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- end }}

{{- define "sekisho.egressRules" -}}
{{- $egress := .Values.networkPolicy.egress }}
{{- if $egress.dns.enabled }}
- to:
    - namespaceSelector:
        {{- toYaml $egress.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml $egress.dns.podSelector | nindent 8 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}
{{- range $egress.backends }}
{{- include "sekisho.egressRule" . | nindent 0 }}
{{- end }}
{{- include "sekisho.egressRule" $egress.postgres | nindent 0 }}
{{- include "sekisho.egressRule" $egress.redis | nindent 0 }}
{{- range $egress.extra }}
{{- include "sekisho.egressRule" . | nindent 0 }}
{{- end }}
{{- end }}
