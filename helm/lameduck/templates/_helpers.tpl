{{/*
Shared pieces. Every public template takes the including chart's root context (`.`) and reads
its settings from .Values.lameduck, where Helm merges this chart's values.yaml under the user's.
*/}}

{{/* Used as: $v := required (include "lameduck.missing" .) .Values.lameduck */}}
{{- define "lameduck.missing" -}}
lameduck: .Values.lameduck is missing: depend on the lameduck chart under its own name (no alias)
{{- end -}}

{{- define "lameduck.image" -}}
{{- $v := required (include "lameduck.missing" .) .Values.lameduck -}}
{{- printf "%s:%s" $v.image.repository (toString $v.image.tag) -}}
{{- end -}}

{{/* The ServiceAccount the pod runs as; prestop reads the API with its token. */}}
{{- define "lameduck.serviceAccountName" -}}
{{- $v := required (include "lameduck.missing" .) .Values.lameduck -}}
{{- $v.serviceAccount.name | default (printf "%s-lameduck" .Release.Name | trunc 63 | trimSuffix "-") -}}
{{- end -}}

{{- define "lameduck.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lameduck
{{- end -}}

{{/*
The Pod Security Standard "restricted" profile for the toolkit's containers. The image runs as
65532 and needs no writable root: install writes to the emptyDir, the server writes nothing.
*/}}
{{- define "lameduck.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
