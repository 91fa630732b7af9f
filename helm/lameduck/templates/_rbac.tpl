{{/*
The ServiceAccount, Role and RoleBinding prestop needs, as YAML documents. Use it in a template
file of your own:

  {{ include "lameduck.rbac" . }}

With serviceAccount.create false, the Role is bound to serviceAccount.name, which must exist.
*/}}
{{- define "lameduck.rbac" -}}
{{- $v := required (include "lameduck.missing" .) .Values.lameduck -}}
{{- $sa := include "lameduck.serviceAccountName" . -}}
{{- $name := printf "%s-lameduck" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- if $v.serviceAccount.create }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $sa }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lameduck.labels" . | nindent 4 }}
{{- end }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lameduck.labels" . | nindent 4 }}
rules:
  # Phase 2: watch the pod's endpoints until it is not ready in any of them.
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
  # The pod's deletionTimestamp, which can make the deadline earlier than the grace period.
  - apiGroups: [""]
    resources: [pods]
    verbs: [get]
  {{- if $v.prestop.events }}
  # --event: the summary as an Event on the pod, through either Events API.
  - apiGroups: ["", events.k8s.io]
    resources: [events]
    verbs: [create]
  {{- end }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lameduck.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ $sa }}
    namespace: {{ .Release.Namespace }}
{{- end -}}
