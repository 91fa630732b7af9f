{{/*
The toolkit's own containers. Use them as list items:

  initContainers:
    {{- include "lameduck.initContainers" . | nindent 8 }}
  containers:
    - name: agent
      ...
    {{- include "lameduck.containers" . | nindent 8 }}
*/}}

{{/*
The image has no shell or cp, so `readyz-toggle install` copies the three tools onto the
emptyDir that the agent's container mounts at toolsDir. It is mounted elsewhere here: mounted
over /lameduck/bin it would hide the very binaries it copies.
*/}}
{{- define "lameduck.installContainer" -}}
{{- $v := required (include "lameduck.missing" .) .Values.lameduck -}}
name: lameduck-install
image: {{ include "lameduck.image" . | quote }}
imagePullPolicy: {{ $v.image.pullPolicy }}
command: [/lameduck/bin/readyz-toggle]
args: [install, /lameduck/install]
volumeMounts:
  - name: lameduck-bin
    mountPath: /lameduck/install
resources:
  {{- toYaml $v.installResources | nindent 2 }}
securityContext:
  {{- include "lameduck.containerSecurityContext" . | nindent 2 }}
{{- end -}}

{{/* readyz-toggle serve: the agent's readinessProbe asks it, prestop turns it off. */}}
{{- define "lameduck.readyzContainer" -}}
{{- $v := required (include "lameduck.missing" .) .Values.lameduck -}}
{{- $r := $v.readyz -}}
name: lameduck-readyz
image: {{ include "lameduck.image" . | quote }}
imagePullPolicy: {{ $v.image.pullPolicy }}
{{- if $r.nativeSidecar }}
# A native sidecar: started before the agent, stopped after it.
restartPolicy: Always
{{- end }}
command: [/lameduck/bin/readyz-toggle]
args:
  - serve
  - --listen=[::]:{{ $r.port }}
  # The switch outlives a restart of this container: a draining pod stays out of its Services.
  - --state-file={{ $v.stateDir }}/readiness.json
  {{- with $r.upstream }}
  - --upstream={{ . }}
  - --upstream-timeout={{ $r.upstreamTimeout }}
  {{- end }}
volumeMounts:
  - name: lameduck-state
    mountPath: {{ $v.stateDir }}
ports:
  - name: lameduck-readyz
    containerPort: {{ $r.port }}
    protocol: TCP
livenessProbe:
  httpGet:
    path: /livez
    port: {{ $r.port }}
  periodSeconds: 10
resources:
  {{- toYaml $r.resources | nindent 2 }}
securityContext:
  {{- include "lameduck.containerSecurityContext" . | nindent 2 }}
{{- end -}}

{{/* The pod's initContainers entries: the install step, then the native sidecar if chosen. */}}
{{- define "lameduck.initContainers" -}}
{{- $v := required (include "lameduck.missing" .) .Values.lameduck -}}
- {{ include "lameduck.installContainer" . | nindent 2 | trim }}
{{- if $v.readyz.nativeSidecar }}
- {{ include "lameduck.readyzContainer" . | nindent 2 | trim }}
{{- end }}
{{- end -}}

{{/* The pod's extra containers entries: the readiness server as a plain sidecar, if chosen. */}}
{{- define "lameduck.containers" -}}
{{- $v := required (include "lameduck.missing" .) .Values.lameduck -}}
{{- if not $v.readyz.nativeSidecar }}
- {{ include "lameduck.readyzContainer" . | nindent 2 | trim }}
{{- end }}
{{- end -}}
