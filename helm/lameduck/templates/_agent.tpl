{{/*
What the agent's own container gets. Use them as:

  containers:
    - name: agent
      env:
        {{- include "lameduck.env" . | nindent 12 }}
      volumeMounts:
        {{- include "lameduck.volumeMounts" . | nindent 12 }}
      readinessProbe:
        {{- include "lameduck.readinessProbe" . | nindent 12 }}
      lifecycle:
        {{- include "lameduck.lifecycle" . | nindent 12 }}
*/}}

{{/* The pod's identity, which prestop matches against the EndpointSlices. */}}
{{- define "lameduck.env" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_UID
  valueFrom:
    fieldRef:
      fieldPath: metadata.uid
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: POD_IPS
  valueFrom:
    fieldRef:
      fieldPath: status.podIPs
{{- end -}}

{{/* The tools, read-only, and prestop's state directory (the root filesystem is read-only). */}}
{{- define "lameduck.volumeMounts" -}}
{{- $v := required (include "lameduck.missing" .) .Values.lameduck -}}
- name: lameduck-bin
  mountPath: {{ $v.toolsDir }}
  readOnly: true
- name: lameduck-state
  mountPath: {{ $v.stateDir }}
{{- end -}}

{{/*
The probe asks the sidecar, not the agent: the sidecar answers 503 once prestop turns it off,
and otherwise forwards to readyz.upstream, so /readyz reflects both the switch and the agent.
The port is a number because a probe's named port must belong to the probed container.
*/}}
{{- define "lameduck.readinessProbe" -}}
{{- $v := required (include "lameduck.missing" .) .Values.lameduck -}}
httpGet:
  path: /readyz
  port: {{ $v.readyz.port }}
{{- toYaml $v.readyz.probe | nindent 0 }}
{{- end -}}

{{/*
prestop's command line (CONTRACT.md §5). --grace-period comes from the same value as the pod's
terminationGracePeriodSeconds (see lameduck.terminationGracePeriodSeconds).
*/}}
{{- define "lameduck.prestopCommand" -}}
{{- $v := required (include "lameduck.missing" .) .Values.lameduck -}}
{{- $p := $v.prestop -}}
- {{ printf "%s/prestop" $v.toolsDir | quote }}
- {{ printf "--grace-period=%ds" (int $v.gracePeriodSeconds) | quote }}
- {{ printf "--margin=%s" $p.margin | quote }}
- {{ printf "--readyz-url=http://127.0.0.1:%d" (int $v.readyz.port) | quote }}
{{- range $p.services }}
- {{ printf "--service=%s" . | quote }}
{{- end }}
{{- with $p.endpointsTimeout }}
- {{ printf "--endpoints-timeout=%s" . | quote }}
{{- end }}
- {{ printf "--min-delay=%s" $p.minDelay | quote }}
- {{ printf "--fallback-delay=%s" $p.fallbackDelay | quote }}
- {{ printf "--until-quiet=%s" $p.untilQuiet | quote }}
{{- range $p.quietPorts }}
- {{ printf "--quiet-port=%d" (int .) | quote }}
{{- end }}
{{- with $p.quietTimeout }}
- {{ printf "--quiet-timeout=%s" . | quote }}
{{- end }}
{{- with $p.drainUrl }}
- {{ printf "--drain-url=%s" . | quote }}
{{- end }}
{{- range $p.drainSteps }}
- {{ printf "--drain-step=%s" . | quote }}
{{- end }}
{{- with $p.statusUrl }}
- {{ printf "--status-url=%s" . | quote }}
{{- end }}
{{- range $p.connectionsPorts }}
- {{ printf "--connections-port=%d" (int .) | quote }}
{{- end }}
- {{ printf "--state-dir=%s" $v.stateDir | quote }}
{{- if $p.events }}
- "--event"
{{- end }}
{{- with $p.notifyUrl }}
- {{ printf "--notify-url=%s" . | quote }}
{{- end }}
{{- $d := $p.deregister | default dict }}
{{- $etcd := $d.etcd | default dict }}
{{- if or $etcd.endpoints $d.url }}
- {{ printf "--deregister-timeout=%s" ($d.timeout | default "5s") | quote }}
{{- end }}
{{- range $etcd.endpoints }}
- {{ printf "--etcd-endpoint=%s" . | quote }}
{{- end }}
{{- range $etcd.keys }}
- {{ printf "--etcd-key=%s" . | quote }}
{{- end }}
{{- range $etcd.leaseFromKeys }}
- {{ printf "--etcd-lease-from-key=%s" . | quote }}
{{- end }}
{{- range $flag, $value := dict "--etcd-ca-file" $etcd.caFile "--etcd-cert-file" $etcd.certFile "--etcd-key-file" $etcd.keyFile "--etcd-user" $etcd.user "--etcd-password-file" $etcd.passwordFile }}
{{- with $value }}
- {{ printf "%s=%s" $flag . | quote }}
{{- end }}
{{- end }}
{{- with $d.url }}
- {{ printf "--deregister-url=%s" . | quote }}
- {{ printf "--deregister-method=%s" ($d.method | default "PUT") | quote }}
{{- end }}
{{- range $p.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
preStop runs prestop. postStart turns readiness back on: after a liveness restart the pod was
not deleted, prestop turned the switch off, and nothing else would turn it on again.
*/}}
{{- define "lameduck.lifecycle" -}}
{{- $v := required (include "lameduck.missing" .) .Values.lameduck -}}
preStop:
  exec:
    command:
      {{- include "lameduck.prestopCommand" . | nindent 6 }}
postStart:
  exec:
    command:
      - {{ printf "%s/readyz-toggle" $v.toolsDir | quote }}
      - "on"
      - {{ printf "--url=http://127.0.0.1:%d" (int $v.readyz.port) | quote }}
      - "--timeout=10s"  # a plain sidecar may still be starting
{{- end -}}
