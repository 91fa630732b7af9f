{{/*
Pod-level pieces. Use them as:

  spec:
    serviceAccountName: {{ include "lameduck.serviceAccountName" . }}
    terminationGracePeriodSeconds: {{ include "lameduck.terminationGracePeriodSeconds" . }}
    volumes:
      {{- include "lameduck.volumes" . | nindent 8 }}
*/}}

{{/*
The kubelet's budget for the whole stop. prestop's --grace-period is built from the same value,
so the hook always plans within the time the kubelet really gives it.
*/}}
{{- define "lameduck.terminationGracePeriodSeconds" -}}
{{- $v := required (include "lameduck.missing" .) .Values.lameduck -}}
{{- int $v.gracePeriodSeconds -}}
{{- end -}}

{{- define "lameduck.volumes" -}}
- name: lameduck-bin
  emptyDir:
    sizeLimit: 64Mi
- name: lameduck-state
  emptyDir:
    sizeLimit: 16Mi
{{- end -}}

{{/*
true when a drain step signals a process by name or pid file: that process is in another
container, which the agent's prestop sees only in a shared process namespace.
*/}}
{{- define "lameduck.shareProcessNamespace" -}}
{{- $v := required (include "lameduck.missing" .) .Values.lameduck -}}
{{- $share := false -}}
{{- range ($v.prestop.drainSteps | default list) -}}
{{- if hasPrefix "signal:" . -}}{{- $share = true -}}{{- end -}}
{{- end -}}
{{- $share -}}
{{- end -}}
