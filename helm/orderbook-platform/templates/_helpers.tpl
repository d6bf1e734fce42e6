{{/* Names, labels and the settings every platform container gets. */}}

{{- define "orderbook.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "orderbook.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's resource name: `orderbook.component (list . "engine")`. */}}
{{- define "orderbook.component" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "orderbook.fullname" $root | trunc 40 | trimSuffix "-") (index . 1) -}}
{{- end -}}

{{- define "orderbook.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "orderbook.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "orderbook.labels" -}}
{{- $root := index . 0 -}}
{{ include "orderbook.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
{{- end -}}

{{- define "orderbook.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "orderbook.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "orderbook.component" (list . "dagster")) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The run pods' identity: with serviceAccount.create, an account of their own with no
Role (a run manages no Jobs); else the given account. */}}
{{- define "orderbook.runServiceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- include "orderbook.component" (list . "dagster-run") -}}
{{- else -}}
{{- include "orderbook.serviceAccountName" . -}}
{{- end -}}
{{- end -}}

{{/* Fails the render when a metrics host is loopback: the kubelet's probes and
Prometheus reach a pod over its IP. Called with (list "<setting>" host "<what serves>"). */}}
{{- define "orderbook.refuseLoopbackHost" -}}
{{- $setting := index . 0 -}}
{{- $host := index . 1 | toString -}}
{{- if or (hasPrefix "127." $host) (eq $host "::1" "localhost") -}}
{{- fail (printf "%s %q is loopback: the kubelet's probes and Prometheus reach the %s over the pod IP (use 0.0.0.0, or :: on an IPv6 cluster)" $setting $host (index . 2)) -}}
{{- end -}}
{{- end -}}

{{- define "orderbook.configMapName" -}}
{{- include "orderbook.component" (list . "config") -}}
{{- end -}}

{{- define "orderbook.configSecretName" -}}
{{- default (include "orderbook.component" (list . "config")) .Values.existingConfigSecret -}}
{{- end -}}

{{/* Kafka: the chart's broker Service, unless config.kafka.bootstrap_servers is set. */}}
{{- define "orderbook.kafkaService" -}}
{{- include "orderbook.component" (list . "kafka") -}}
{{- end -}}

{{- define "orderbook.kafkaBootstrap" -}}
{{- if .Values.config.kafka.bootstrap_servers -}}
{{- .Values.config.kafka.bootstrap_servers -}}
{{- else if .Values.kafka.enabled -}}
{{- printf "%s.%s.svc:9092" (include "orderbook.kafkaService" .) .Release.Namespace -}}
{{- else -}}
{{- fail "kafka.enabled is false: set config.kafka.bootstrap_servers to your cluster" -}}
{{- end -}}
{{- end -}}

{{- define "orderbook.minioService" -}}
{{- include "orderbook.component" (list . "minio") -}}
{{- end -}}

{{/* S3: the chart's MinIO unless config.s3.endpoint_url is set. */}}
{{- define "orderbook.s3Endpoint" -}}
{{- if .Values.config.s3.endpoint_url -}}
{{- .Values.config.s3.endpoint_url -}}
{{- else if .Values.minio.enabled -}}
{{- printf "http://%s.%s.svc:9000" (include "orderbook.minioService" .) .Release.Namespace -}}
{{- else -}}
{{- fail "minio.enabled is false: set config.s3.endpoint_url (for AWS: https://s3.<region>.amazonaws.com)" -}}
{{- end -}}
{{- end -}}

{{/*
The OB__ variables of `config`, as YAML: {plain: {NAME: value}, secret: {NAME: value}}.
Top-level scalars become OB__KEY, section leaves OB__SECTION__KEY; lists and maps are
JSON (what pydantic-settings decodes); null leaves are left out.
*/}}
{{- define "orderbook.settingsEnv" -}}
{{- $plain := dict -}}
{{- $secret := dict -}}
{{- range $section, $value := .Values.config -}}
{{- if kindIs "map" $value -}}
{{- range $key, $leaf := $value -}}
{{- if not (kindIs "invalid" $leaf) -}}
{{- $name := printf "OB__%s__%s" (upper $section) (upper $key) -}}
{{- $text := toString $leaf -}}
{{- if or (kindIs "map" $leaf) (kindIs "slice" $leaf) -}}
{{- $text = toJson $leaf -}}
{{- end -}}
{{- if has (printf "%s.%s" $section $key) $.Values.secretKeys -}}
{{- $_ := set $secret $name $text -}}
{{- else -}}
{{- $_ := set $plain $name $text -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- else if not (kindIs "invalid" $value) -}}
{{- $_ := set $plain (printf "OB__%s" (upper $section)) (toString $value) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $plain "OB__KAFKA__BOOTSTRAP_SERVERS" (include "orderbook.kafkaBootstrap" .) -}}
{{- if .Values.kafkaTls.caSecret -}}
{{- include "orderbook.kafkaCaCheck" . -}}
{{- $_ := unset $secret "OB__KAFKA__SSL_CA_LOCATION" -}}
{{- $_ := set $plain "OB__KAFKA__SSL_CA_LOCATION" (include "orderbook.kafkaCaPath" .) -}}
{{- end -}}
{{- $_ := set $plain "OB__S3__ENDPOINT_URL" (include "orderbook.s3Endpoint" .) -}}
{{- if not .Values.config.lake.root -}}
{{- $_ := set $plain "OB__LAKE__ROOT" (printf "s3://%s/lake" .Values.config.s3.bucket) -}}
{{- end -}}
{{- dict "plain" $plain "secret" $secret | toYaml -}}
{{- end -}}

{{/*
The Kafka CA (kafkaTls.caSecret): the Secret's key kafkaTls.caKey, mounted read-only at
one fixed path in every container that gets the settings (and in every Dagster run pod),
with config.kafka.ssl_ca_location set to that path. Volumes and mounts render nothing
without a caSecret.
*/}}
{{- define "orderbook.kafkaCaDir" -}}/etc/orderbook/kafka-ca{{- end -}}

{{- define "orderbook.kafkaCaPath" -}}{{ include "orderbook.kafkaCaDir" . }}/ca.crt{{- end -}}

{{- define "orderbook.kafkaCaCheck" -}}
{{- $tls := .Values.kafkaTls -}}
{{- $kafka := .Values.config.kafka -}}
{{- $path := include "orderbook.kafkaCaPath" . -}}
{{- $set := $kafka.ssl_ca_location | default "" | toString -}}
{{- if and $set (ne $set $path) -}}
{{- fail (printf "kafkaTls.caSecret %q is mounted at %s, but config.kafka.ssl_ca_location is %q: leave ssl_ca_location unset (null) when kafkaTls.caSecret is set" $tls.caSecret $path $set) -}}
{{- end -}}
{{- $protocol := $kafka.security_protocol | default "PLAINTEXT" -}}
{{- if not (has $protocol (list "SSL" "SASL_SSL")) -}}
{{- fail (printf "kafkaTls.caSecret %q is set but config.kafka.security_protocol is %s, which does not use TLS: set security_protocol to SSL or SASL_SSL, or leave kafkaTls.caSecret empty" $tls.caSecret $protocol) -}}
{{- end -}}
{{- end -}}

{{- define "orderbook.kafkaCaVolumes" -}}
{{- if .Values.kafkaTls.caSecret -}}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafkaTls.caSecret }}
    items:
      - key: {{ .Values.kafkaTls.caKey }}
        path: {{ include "orderbook.kafkaCaPath" . | base }}
{{- end -}}
{{- end -}}

{{- define "orderbook.kafkaCaVolumeMounts" -}}
{{- if .Values.kafkaTls.caSecret -}}
- name: kafka-ca
  mountPath: {{ include "orderbook.kafkaCaDir" . }}
  readOnly: true
{{- end -}}
{{- end -}}

{{/* envFrom of every platform container: the settings ConfigMap and Secret. */}}
{{- define "orderbook.settingsEnvFrom" -}}
- configMapRef:
    name: {{ include "orderbook.configMapName" . }}
- secretRef:
    name: {{ include "orderbook.configSecretName" . }}
{{- end -}}

{{/* Changes of the settings roll the pods that read them. */}}
{{- define "orderbook.settingsChecksum" -}}
checksum/config: {{ include "orderbook.settingsEnv" . | sha256sum }}
{{- end -}}

{{/*
An init container that runs `orderbook topics apply` (idempotent) before the engine or
the traders start: the post-install hook runs only after `helm install --wait` has seen
every pod ready, and the engine refuses to start without its topics.
*/}}
{{- define "orderbook.topicsInitContainer" -}}
- name: topics
  image: {{ include "orderbook.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["orderbook", "topics", "apply"]
  envFrom:
    {{- include "orderbook.settingsEnvFrom" . | nindent 4 }}
  resources:
    {{- toYaml .Values.topicsJob.resources | nindent 4 }}
  securityContext:
    {{- include "orderbook.containerSecurityContext" . | nindent 4 }}
  {{- with include "orderbook.kafkaCaVolumeMounts" . }}
  volumeMounts:
    {{- . | nindent 4 }}
  {{- end }}
{{- end -}}

{{- define "orderbook.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
{{- end -}}

{{- define "orderbook.containerSecurityContext" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Dagster: instance ConfigMap, workspace, Postgres. */}}
{{- define "orderbook.dagsterInstanceConfigMap" -}}
{{- include "orderbook.component" (list . "dagster-instance") -}}
{{- end -}}

{{- define "orderbook.dagsterWorkspaceConfigMap" -}}
{{- include "orderbook.component" (list . "dagster-workspace") -}}
{{- end -}}

{{- define "orderbook.dagsterCodeService" -}}
{{- include "orderbook.component" (list . "dagster-code") -}}
{{- end -}}

{{- define "orderbook.postgresHost" -}}
{{- if .Values.dagster.postgresql.enabled -}}
{{- printf "%s.%s.svc" (include "orderbook.component" (list . "postgresql")) .Release.Namespace -}}
{{- else if .Values.dagster.postgresql.host -}}
{{- .Values.dagster.postgresql.host -}}
{{- else -}}
{{- fail "dagster.postgresql.enabled is false: set dagster.postgresql.host" -}}
{{- end -}}
{{- end -}}

{{- define "orderbook.postgresSecret" -}}
{{- default (include "orderbook.component" (list . "postgresql")) .Values.dagster.postgresql.existingSecret -}}
{{- end -}}

{{- define "orderbook.dagsterHome" -}}/opt/dagster/dagster_home{{- end -}}

{{/* What the webserver and the daemon share: DAGSTER_HOME with dagster.yaml, the workspace. */}}
{{- define "orderbook.dagsterEnv" -}}
- name: DAGSTER_HOME
  value: {{ include "orderbook.dagsterHome" . }}
- name: DAGSTER_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "orderbook.postgresSecret" . }}
      key: postgresql-password
{{- end -}}

{{- define "orderbook.dagsterVolumeMounts" -}}
- name: instance
  mountPath: {{ include "orderbook.dagsterHome" . }}/dagster.yaml
  subPath: dagster.yaml
- name: workspace
  mountPath: /opt/dagster/workspace
{{- end -}}

{{- define "orderbook.dagsterVolumes" -}}
- name: instance
  configMap:
    name: {{ include "orderbook.dagsterInstanceConfigMap" . }}
- name: workspace
  configMap:
    name: {{ include "orderbook.dagsterWorkspaceConfigMap" . }}
{{- end -}}
