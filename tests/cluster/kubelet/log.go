package main

import (
	"bytes"
	"encoding/json"
	"os"
	"sync"
	"time"
)

// The tests read stderr line by line, wait for an "event" and measure the time between two of
// them, so every line is written whole and at the moment the thing it names happens.
//
// Events, with their fields beyond time, event, pod ("namespace/name") and container:
//
//	node.registered        node, ip
//	pod.started            ip, netns, dir         the sandbox is up
//	image.pull_failed      image, reason (ErrImagePull, ImagePullBackOff), message
//	container.started      pid, restart_count, dir
//	poststart.started      handler; then poststart.exited (code) or poststart.failed (code, error)
//	probe.ready            a readiness flip to ready
//	probe.not_ready        message: the flip to not ready
//	probe.liveness_failed  message; probe.startup_failed likewise; probe.error: the probe could not run
//	pod.deleting           grace_seconds
//	prestop.started        handler, grace_seconds
//	prestop.exited         code, seconds, error and output (the last 4 KiB) when it failed
//	prestop.abandoned      seconds: the grace period ran out first
//	container.sigterm      grace_seconds (until SIGKILL), pid
//	container.exited       code, pid; container.killed: the same, after a SIGKILL
//	pod.gone               the object is deleted and nothing of the pod is left on the node
//	error                  what, error
//	kubelet.stopping       signal; kubelet.stopped once every pod is cleaned up
var logMu sync.Mutex

// logEvent writes {"time", "event", "pod", "container", kv...} as one JSON line. pod and
// container are left out when empty; kv holds key, value pairs.
func logEvent(event, pod, container string, kv ...any) {
	var b bytes.Buffer
	b.WriteString(`{"time":`)
	writeJSON(&b, time.Now().UTC().Format(time.RFC3339Nano))
	b.WriteString(`,"event":`)
	writeJSON(&b, event)
	if pod != "" {
		b.WriteString(`,"pod":`)
		writeJSON(&b, pod)
	}
	if container != "" {
		b.WriteString(`,"container":`)
		writeJSON(&b, container)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		key, _ := kv[i].(string)
		b.WriteByte(',')
		writeJSON(&b, key)
		b.WriteByte(':')
		v := kv[i+1]
		if err, ok := v.(error); ok {
			v = err.Error()
		}
		writeJSON(&b, v)
	}
	b.WriteString("}\n")
	logMu.Lock()
	os.Stderr.Write(b.Bytes())
	logMu.Unlock()
}

func logError(pod, container, what string, err error) {
	logEvent("error", pod, container, "what", what, "error", err)
}

func writeJSON(b *bytes.Buffer, v any) {
	out, err := json.Marshal(v)
	if err != nil {
		out, _ = json.Marshal(err.Error())
	}
	b.Write(out)
}
