package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// killAll stops every running container in parallel, as killContainersWithSyncResult does:
// regular containers and sidecars alike run their preStop hooks at once, and the sidecars get
// SIGTERM only after every regular container (and every later sidecar) has exited.
func (pw *podWorker) killAll(grace int64) {
	pw.mu.Lock()
	var running []*process
	names := map[string]bool{}
	for _, c := range pw.containers {
		if c.proc != nil && !c.proc.exited() {
			running = append(running, c.proc)
			names[c.spec.Name] = true
		}
	}
	order := newTermOrdering(pw.pod, names)
	pw.mu.Unlock()

	var wg sync.WaitGroup
	for _, p := range running {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw.killContainer(p, grace, order)
		}()
	}
	wg.Wait()
}

// killContainer follows kuberuntime's killContainer: the preStop hook within the grace
// period, then whatever is left of it (whole seconds, at least 2) between SIGTERM and SIGKILL.
func (pw *podWorker) killContainer(p *process, grace int64, order *termOrdering) {
	c := p.c
	name := c.spec.Name
	if order != nil {
		defer order.stopped(name)
	}
	if !p.beginKill() {
		// A liveness restart is already stopping it: wait for that, within this grace.
		pw.stopProcess(p, max(grace, minGraceSeconds), false)
		return
	}
	if lc := c.spec.Lifecycle; lc != nil && lc.PreStop != nil && grace > 0 {
		grace -= pw.preStop(p, lc.PreStop, grace)
	}
	if order != nil && grace > 0 {
		grace -= order.waitForTurn(name, grace, pw.k.ctx.Done())
	}
	pw.stopProcess(p, max(grace, minGraceSeconds), true)
}

// preStop runs the hook and waits for it or the grace period, whichever ends first, and
// returns the whole seconds that took. An abandoned hook keeps running until its container
// stops, as in a real runtime.
func (pw *podWorker) preStop(p *process, h *v1.LifecycleHandler, grace int64) int64 {
	name := p.c.spec.Name
	start := time.Now()
	logEvent("prestop.started", pw.key, name, "handler", handlerKind(h), "grace_seconds", grace)
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	var output bytes.Buffer
	go func() {
		out := pw.hookLog(name)
		defer out.Close()
		tail := &limitedWriter{w: &output, n: 4 << 10}
		code, err := pw.runHandler(p, h, multiWriter{out, tail})
		done <- result{code, err}
	}()
	select {
	case r := <-done:
		kv := []any{"code", r.code, "seconds", time.Since(start).Seconds()}
		if r.err != nil {
			kv = append(kv, "error", r.err.Error())
		}
		if r.code != 0 {
			kv = append(kv, "output", output.String())
		}
		logEvent("prestop.exited", pw.key, name, kv...)
	case <-time.After(time.Duration(grace) * time.Second):
		logEvent("prestop.abandoned", pw.key, name, "seconds", time.Since(start).Seconds())
	case <-pw.k.ctx.Done():
	}
	return int64(time.Since(start).Seconds())
}

// multiWriter is io.MultiWriter without its stop at the first failed write: a hook's output
// is kept where it can be, and the hook never sees a broken pipe because of it.
type multiWriter []io.Writer

func (m multiWriter) Write(b []byte) (int, error) {
	for _, w := range m {
		_, _ = w.Write(b)
	}
	return len(b), nil
}

// stopProcess is the runtime's StopContainer: SIGTERM, then SIGKILL after grace seconds.
func (pw *podWorker) stopProcess(p *process, grace int64, term bool) {
	if p.exited() {
		return
	}
	if term {
		p.sigterm()
		logEvent("container.sigterm", pw.key, p.c.spec.Name, "grace_seconds", grace, "pid", p.pid)
	}
	select {
	case <-p.done:
		return
	case <-time.After(time.Duration(grace) * time.Second):
	case <-pw.k.ctx.Done():
	}
	p.sigkill()
	<-p.done
}

// abort is the kubelet's own shutdown: kill everything at once and leave nothing behind on
// the host. The API objects stay; a kubelet started later takes the pods up again.
func (pw *podWorker) abort() {
	pw.mu.Lock()
	pw.terminating = true
	var running []*process
	for _, c := range pw.containers {
		if c.proc != nil {
			running = append(running, c.proc)
		}
	}
	pw.mu.Unlock()
	for _, p := range running {
		p.sigkill()
	}
	for _, p := range running {
		<-p.done
	}
	pw.teardown()
}

// teardown removes the pod's network namespace and moves its directory (volumes, termination
// logs) to <root>/gone/, where the tests read what a pod left behind. Container mounts lived in
// the containers' own mount namespaces and went with their last process.
func (pw *podWorker) teardown() {
	pw.mu.Lock()
	slot := pw.slot
	pw.slot = -1
	pw.mu.Unlock()
	if slot >= 0 {
		pw.k.net.remove(slot)
		pw.k.net.release(slot)
	}
	gone := filepath.Join(pw.k.root, "gone", filepath.Base(pw.dir))
	if err := os.MkdirAll(filepath.Dir(gone), 0o755); err != nil {
		logError(pw.key, "", "keep pod directory", err)
	}
	_ = os.RemoveAll(gone)
	if err := os.Rename(pw.dir, gone); err != nil {
		logError(pw.key, "", "keep pod directory", err)
		_ = os.RemoveAll(pw.dir)
	}
}

// deleteFromAPI is the status manager's final step: delete with no grace, only this pod.
func (pw *podWorker) deleteFromAPI() {
	if pw.isRemoved() {
		return
	}
	pod := pw.snapshot()
	uid := pw.uid
	for attempt := 0; attempt < 5; attempt++ {
		err := pw.k.client.CoreV1().Pods(pod.Namespace).Delete(pw.k.ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64),
			Preconditions:      &metav1.Preconditions{UID: &uid},
		})
		if err == nil || isGone(err) {
			return
		}
		logError(pw.key, "", "delete pod", err)
		time.Sleep(time.Second)
	}
}

// termOrdering is kuberuntime's terminationOrdering: a sidecar may stop only after every
// regular container and every sidecar declared after it.
type termOrdering struct {
	mu         sync.Mutex
	terminated map[string]chan struct{}
	prereqs    map[string][]chan struct{}
}

func newTermOrdering(pod *v1.Pod, running map[string]bool) *termOrdering {
	hasSidecar := false
	for i := range pod.Spec.InitContainers {
		if rp := pod.Spec.InitContainers[i].RestartPolicy; rp != nil && *rp == v1.ContainerRestartPolicyAlways {
			hasSidecar = true
		}
	}
	if !hasSidecar {
		return nil
	}
	o := &termOrdering{terminated: map[string]chan struct{}{}, prereqs: map[string][]chan struct{}{}}
	channel := func(name string) chan struct{} {
		ch := make(chan struct{})
		if !running[name] {
			close(ch)
		}
		o.terminated[name] = ch
		return ch
	}
	var regular []chan struct{}
	for _, c := range pod.Spec.Containers {
		regular = append(regular, channel(c.Name))
	}
	previous := ""
	for i := len(pod.Spec.InitContainers) - 1; i >= 0; i-- {
		ic := pod.Spec.InitContainers[i]
		channel(ic.Name)
		if rp := ic.RestartPolicy; rp != nil && *rp == v1.ContainerRestartPolicyAlways {
			o.prereqs[ic.Name] = append(o.prereqs[ic.Name], regular...)
			if previous != "" {
				o.prereqs[ic.Name] = append(o.prereqs[ic.Name], o.terminated[previous])
			}
			previous = ic.Name
		}
	}
	return o
}

// waitForTurn blocks until the container's prerequisites have stopped or grace seconds pass,
// and returns the whole seconds it waited.
func (o *termOrdering) waitForTurn(name string, grace int64, abort <-chan struct{}) int64 {
	start := time.Now()
	timeout := time.After(time.Duration(grace) * time.Second)
	for _, ch := range o.prereqs[name] {
		select {
		case <-ch:
		case <-timeout:
			return int64(time.Since(start).Seconds())
		case <-abort:
			return int64(time.Since(start).Seconds())
		}
	}
	return int64(time.Since(start).Seconds())
}

func (o *termOrdering) stopped(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ch, ok := o.terminated[name]; ok {
		close(ch)
		delete(o.terminated, name)
	}
}
