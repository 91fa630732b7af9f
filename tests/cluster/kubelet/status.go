package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The conditions the kubelet owns; any other (PodScheduled, DisruptionTarget, readiness
// gates) is kept as the API has it.
var kubeletConditions = []v1.PodConditionType{
	v1.PodReadyToStartContainers, v1.PodInitialized, v1.PodReady, v1.ContainersReady,
}

// statusLoop writes the status whenever something changed, one write at a time; changes that
// come in during a write are folded into the next.
func (pw *podWorker) statusLoop(done <-chan struct{}) {
	for {
		select {
		case <-pw.kick:
			pw.writeStatus()
		case <-done:
			return
		}
	}
}

// writeStatus puts the current status through the status subresource. On a conflict it
// re-reads the pod and builds the status again on top of it.
func (pw *podWorker) writeStatus() {
	pw.writeMu.Lock()
	defer pw.writeMu.Unlock()
	pods := pw.k.client.CoreV1().Pods(pw.snapshot().Namespace)
	for attempt := 0; attempt < 10; attempt++ {
		pw.mu.Lock()
		if pw.removed || pw.frozen || pw.k.ctx.Err() != nil {
			pw.mu.Unlock()
			return
		}
		base := pw.apiPod
		if base == nil || newer(pw.pod, base) {
			base = pw.pod
		}
		status := pw.buildStatus(base)
		unchanged := pw.lastStatus != nil && equality.Semantic.DeepEqual(*pw.lastStatus, status)
		pw.mu.Unlock()
		if unchanged {
			return
		}

		next := base.DeepCopy()
		next.Status = status
		out, err := pods.UpdateStatus(pw.k.ctx, next, metav1.UpdateOptions{})
		if err == nil {
			pw.mu.Lock()
			pw.apiPod = out
			pw.lastStatus = &status
			pw.mu.Unlock()
			return
		}
		if apierrors.IsNotFound(err) || pw.k.ctx.Err() != nil {
			return
		}
		if apierrors.IsConflict(err) {
			fresh, gerr := pods.Get(pw.k.ctx, base.Name, metav1.GetOptions{})
			if gerr != nil {
				if isGone(gerr) {
					return
				}
				logError(pw.key, "", "read pod", gerr)
				time.Sleep(500 * time.Millisecond)
				continue
			}
			if fresh.UID != pw.uid {
				return
			}
			pw.mu.Lock()
			pw.apiPod = fresh
			pw.mu.Unlock()
			continue
		}
		logError(pw.key, "", "write status", err)
		time.Sleep(500 * time.Millisecond)
	}
}

// buildStatus is generateAPIPodStatus for what this worker knows, on top of the API's copy
// (for conditions owned by others and transition times). Called with pw.mu held.
func (pw *podWorker) buildStatus(base *v1.Pod) v1.PodStatus {
	old := base.Status
	pod := pw.pod
	st := v1.PodStatus{
		HostIP:             pw.k.apiHost,
		HostIPs:            []v1.HostIP{{IP: pw.k.apiHost}},
		StartTime:          old.StartTime,
		QOSClass:           old.QOSClass,
		ObservedGeneration: pod.Generation,
	}
	if st.StartTime == nil {
		st.StartTime = pw.startTime
	}
	if st.QOSClass == "" {
		st.QOSClass = qosClass(pod)
	}
	if pw.ip != "" {
		st.PodIP = pw.ip
		st.PodIPs = []v1.PodIP{{IP: pw.ip}}
	} else {
		st.PodIP, st.PodIPs = old.PodIP, old.PodIPs
	}
	for _, c := range pw.containers {
		cs := pw.containerStatus(c)
		if c.kind == regularContainer {
			st.ContainerStatuses = append(st.ContainerStatuses, cs)
		} else {
			st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
		}
	}
	st.Phase = pw.phase()

	now := metav1.NewTime(time.Now().Truncate(time.Second))
	cond := func(t v1.PodConditionType, ok bool, reason, msg string) v1.PodCondition {
		c := v1.PodCondition{Type: t, Status: v1.ConditionFalse, Reason: reason, Message: msg, ObservedGeneration: pod.Generation, LastTransitionTime: now}
		if ok {
			c.Status, c.Reason, c.Message = v1.ConditionTrue, "", ""
		}
		for _, o := range old.Conditions {
			if o.Type == t && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
				c.LastProbeTime = o.LastProbeTime
			}
		}
		return c
	}

	var notInit []string
	for _, c := range pw.containers {
		if c.kind == initContainer && (c.state.Terminated == nil || c.state.Terminated.ExitCode != 0) && !pw.initialized {
			notInit = append(notInit, c.spec.Name)
		}
		if c.kind == sidecarContainer && !c.started && !pw.initialized {
			notInit = append(notInit, c.spec.Name)
		}
	}
	initialized := pw.initialized || len(notInit) == 0 || st.Phase == v1.PodSucceeded
	initMsg := ""
	if !initialized {
		initMsg = fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(notInit, " "))
	}

	var unready []string
	for _, cs := range append(append([]v1.ContainerStatus(nil), st.InitContainerStatuses...), st.ContainerStatuses...) {
		c := pw.byName(cs.Name)
		if c.kind != initContainer && !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	readyReason, readyMsg := "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	completed := st.Phase == v1.PodSucceeded || st.Phase == v1.PodFailed
	if completed {
		readyReason, readyMsg = "PodCompleted", ""
	}
	containersReady := len(unready) == 0 && !completed
	podReady, gateMsg := containersReady, ""
	if containersReady {
		for _, gate := range pod.Spec.ReadinessGates {
			ok := false
			for _, o := range old.Conditions {
				if o.Type == gate.ConditionType && o.Status == v1.ConditionTrue {
					ok = true
				}
			}
			if !ok {
				podReady, gateMsg = false, fmt.Sprintf("the status of pod readiness gate %q is not \"True\"", gate.ConditionType)
			}
		}
	}
	podReadyCond := cond(v1.PodReady, podReady, readyReason, readyMsg)
	if containersReady && !podReady {
		podReadyCond = cond(v1.PodReady, false, "ReadinessGatesNotReady", gateMsg)
	}

	st.Conditions = []v1.PodCondition{
		cond(v1.PodReadyToStartContainers, pw.sandboxReady, "", ""),
		cond(v1.PodInitialized, initialized, "ContainersNotInitialized", initMsg),
		podReadyCond,
		cond(v1.ContainersReady, containersReady, readyReason, readyMsg),
	}
	for _, o := range old.Conditions {
		owned := false
		for _, t := range kubeletConditions {
			owned = owned || o.Type == t
		}
		if !owned {
			st.Conditions = append(st.Conditions, o)
		}
	}
	return st
}

func (pw *podWorker) byName(name string) *container {
	for _, c := range pw.containers {
		if c.spec.Name == name {
			return c
		}
	}
	return nil
}

// containerStatus reports one container. Called with pw.mu held.
func (pw *podWorker) containerStatus(c *container) v1.ContainerStatus {
	started := c.started
	cs := v1.ContainerStatus{
		Name:                 c.spec.Name,
		Image:                c.spec.Image,
		ImageID:              c.imageID,
		RestartCount:         c.restartCount,
		Ready:                c.ready,
		Started:              &started,
		State:                *c.state.DeepCopy(),
		LastTerminationState: *c.lastState.DeepCopy(),
	}
	if c.proc != nil {
		cs.ContainerID = fmt.Sprintf("process://%d", c.proc.pid)
		cfg := c.proc.cfg
		cs.User = &v1.ContainerUser{Linux: &v1.LinuxContainerUser{
			UID: int64(cfg.UID), GID: int64(cfg.GID), SupplementalGroups: supplementalGroups(cfg),
		}}
	}
	if c.kind == initContainer {
		cs.Ready = c.state.Terminated != nil && c.state.Terminated.ExitCode == 0
	}
	// The API keeps whole seconds; so does this, or every write would look like a change.
	truncate := func(t *metav1.Time) { t.Time = t.Time.Truncate(time.Second) }
	for _, s := range []*v1.ContainerState{&cs.State, &cs.LastTerminationState} {
		if s.Running != nil {
			truncate(&s.Running.StartedAt)
		}
		if s.Terminated != nil {
			truncate(&s.Terminated.StartedAt)
			truncate(&s.Terminated.FinishedAt)
		}
	}
	return cs
}

// supplementalGroups lists the process's groups the way the runtime reports them: the primary
// group first.
func supplementalGroups(cfg *containerConfig) []int64 {
	groups := []int64{int64(cfg.GID)}
	for _, g := range cfg.Groups {
		if int64(g) != groups[0] {
			groups = append(groups, int64(g))
		}
	}
	return groups
}

// phase follows the kubelet's getPhase. Called with pw.mu held.
func (pw *podWorker) phase() v1.PodPhase {
	if pw.initFailed {
		return v1.PodFailed
	}
	if !pw.initialized {
		return v1.PodPending
	}
	running, waiting, stopped, succeeded := 0, 0, 0, 0
	for _, c := range pw.containers {
		if c.kind != regularContainer {
			continue
		}
		switch {
		case c.state.Running != nil:
			running++
		case c.state.Terminated != nil:
			stopped++
			if c.state.Terminated.ExitCode == 0 {
				succeeded++
			}
		case c.lastState.Terminated != nil:
			stopped++
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return v1.PodPending
	case running > 0:
		return v1.PodRunning
	case pw.terminal:
		if stopped == succeeded {
			return v1.PodSucceeded
		}
		return v1.PodFailed
	}
	switch pw.pod.Spec.RestartPolicy {
	case v1.RestartPolicyNever:
		if stopped == succeeded {
			return v1.PodSucceeded
		}
		return v1.PodFailed
	case v1.RestartPolicyOnFailure:
		if stopped == succeeded {
			return v1.PodSucceeded
		}
	}
	return v1.PodRunning
}

// qosClass is the API's rule: BestEffort without any request or limit, Guaranteed when every
// container limits cpu and memory at what it requests, Burstable otherwise.
func qosClass(pod *v1.Pod) v1.PodQOSClass {
	any, guaranteed := false, true
	for _, list := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			for _, r := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
				req, hasReq := c.Resources.Requests[r]
				lim, hasLim := c.Resources.Limits[r]
				if hasReq || hasLim {
					any = true
				}
				if !hasLim || (hasReq && req.Cmp(lim) != 0) {
					guaranteed = false
				}
			}
		}
	}
	switch {
	case !any:
		return v1.PodQOSBestEffort
	case guaranteed:
		return v1.PodQOSGuaranteed
	}
	return v1.PodQOSBurstable
}

// newer tells whether a is a later version of the object than b.
func newer(a, b *v1.Pod) bool {
	ra, err1 := strconv.ParseUint(a.ResourceVersion, 10, 64)
	rb, err2 := strconv.ParseUint(b.ResourceVersion, 10, 64)
	return err1 == nil && err2 == nil && ra > rb
}

// isGone: the pod is not there, or another pod of the same name is.
func isGone(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.IsConflict(err)
}
