package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

type containerKind int

const (
	initContainer    containerKind = iota // runs to completion before the next
	sidecarContainer                      // an init container with restartPolicy Always
	regularContainer
)

const maxBackoff = 10 * time.Second

// container is one container of the pod across its runs. Fields below spec are guarded by the
// pod worker's mutex.
type container struct {
	spec *v1.Container
	kind containerKind

	proc         *process // the current or last run
	state        v1.ContainerState
	lastState    v1.ContainerState
	restartCount int32
	started      bool
	ready        bool
	imageID      string
	pullFailures int
	finished     bool // a regular container that exited and will not run again

	attempted chan struct{} // closed after the first attempt to start it
	running   chan struct{} // closed the first time it counts as started
	onceA     sync.Once
	onceR     sync.Once
}

// podWorker runs one pod from its sandbox to its deletion.
type podWorker struct {
	k      *kubelet
	uid    types.UID
	key    string // namespace/name, for the log
	dir    string // <root>/pods/<ns>_<name>_<uid>
	logDir string // <root>/logs/<ns>_<name>_<uid>: kept after the pod, for the tests to read

	stopCtx    context.Context // done once the pod is to stop: ends the start-up's waits
	stop       context.CancelFunc
	finished   chan struct{} // closed when no regular container will run again
	finishOnce sync.Once
	kick       chan struct{} // a status write is due
	writeMu    sync.Mutex

	mu           sync.Mutex
	pod          *v1.Pod // latest from the informer
	apiPod       *v1.Pod // what the last status write returned: the base of the next one
	containers   []*container
	volumes      map[string]string
	slot         int
	ip           string
	startTime    *metav1.Time
	sandboxReady bool
	initialized  bool
	initFailed   bool
	deleting     bool  // the API asked for the pod to go
	grace        int64 // the deletion's grace period
	terminating  bool  // containers are being stopped for good: no restarts
	terminal     bool  // every container has stopped for good: the phase is final
	removed      bool  // the object is gone from the API
	frozen       bool  // finished before this kubelet started: its status is not ours to write
	lastStatus   *v1.PodStatus
}

func newPodWorker(k *kubelet, pod *v1.Pod) *podWorker {
	base := fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID)
	pw := &podWorker{
		k:        k,
		uid:      pod.UID,
		key:      pod.Namespace + "/" + pod.Name,
		dir:      filepath.Join(k.root, "pods", base),
		logDir:   filepath.Join(k.root, "logs", base),
		finished: make(chan struct{}),
		kick:     make(chan struct{}, 1),
		pod:      pod,
		slot:     -1,
	}
	pw.stopCtx, pw.stop = context.WithCancel(k.ctx)
	for i := range pod.Spec.InitContainers {
		kind := initContainer
		if rp := pod.Spec.InitContainers[i].RestartPolicy; rp != nil && *rp == v1.ContainerRestartPolicyAlways {
			kind = sidecarContainer
		}
		pw.containers = append(pw.containers, newContainer(&pod.Spec.InitContainers[i], kind))
	}
	for i := range pod.Spec.Containers {
		pw.containers = append(pw.containers, newContainer(&pod.Spec.Containers[i], regularContainer))
	}
	return pw
}

func newContainer(spec *v1.Container, kind containerKind) *container {
	return &container{
		spec:      spec,
		kind:      kind,
		state:     v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "PodInitializing"}},
		attempted: make(chan struct{}),
		running:   make(chan struct{}),
	}
}

// update takes the informer's latest copy. A deletion timestamp starts the termination.
func (pw *podWorker) update(pod *v1.Pod) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.pod = pod
	if pod.DeletionTimestamp != nil && !pw.deleting {
		grace := int64(defaultGraceSecs)
		if pod.DeletionGracePeriodSeconds != nil {
			grace = *pod.DeletionGracePeriodSeconds
		} else if pod.Spec.TerminationGracePeriodSeconds != nil {
			grace = *pod.Spec.TerminationGracePeriodSeconds
		}
		pw.beginDeletion(grace)
	}
}

// objectDeleted: the object left the API (a forced deletion, or the end of ours). What still runs is
// stopped with no grace beyond the minimum, as the kubelet does for a pod it no longer sees.
func (pw *podWorker) objectDeleted() {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.removed = true
	if !pw.deleting {
		pw.beginDeletion(0)
	}
}

func (pw *podWorker) beginDeletion(grace int64) {
	pw.deleting, pw.terminating, pw.grace = true, true, grace
	logEvent("pod.deleting", pw.key, "", "grace_seconds", grace)
	pw.stop()
}

func (pw *podWorker) isDeleting() bool {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.deleting
}

func (pw *podWorker) isRemoved() bool {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.removed
}

func (pw *podWorker) isTerminating() bool {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.terminating
}

func (pw *podWorker) podIP() string {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.ip
}

func (pw *podWorker) snapshot() *v1.Pod {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.pod
}

func (pw *podWorker) volumePath(name string) (string, bool) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	p, ok := pw.volumes[name]
	return p, ok
}

func (pw *podWorker) containerDir(name string) string {
	return filepath.Join(pw.dir, "containers", name)
}

func (pw *podWorker) kickStatus() {
	select {
	case pw.kick <- struct{}{}:
	default:
	}
}

// run is the pod's life here: start it, keep it running until it is deleted or done, stop it
// the way the kubelet does, report the end and remove the object.
func (pw *podWorker) run() {
	defer pw.k.workerDone(pw)
	statusDone := make(chan struct{})
	go pw.statusLoop(statusDone)
	defer close(statusDone)

	pod := pw.snapshot()
	if pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
		// Finished before this kubelet started: its status stands, only the deletion is left.
		pw.mu.Lock()
		pw.terminating, pw.terminal, pw.frozen = true, true, true
		pw.mu.Unlock()
	} else {
		pw.start()
		select {
		case <-pw.stopCtx.Done():
		case <-pw.finished:
		}
		if pw.k.ctx.Err() != nil {
			pw.abort()
			return
		}
		pw.mu.Lock()
		pw.terminating = true
		grace := pw.grace
		if !pw.deleting {
			// Done by itself (restartPolicy Never or OnFailure): sidecars get the pod's grace.
			grace = defaultGraceSecs
			if g := pw.pod.Spec.TerminationGracePeriodSeconds; g != nil {
				grace = *g
			}
		}
		pw.mu.Unlock()
		pw.killAll(grace)
		if pw.k.ctx.Err() != nil {
			pw.abort()
			return
		}
		pw.mu.Lock()
		pw.terminal = true
		pw.mu.Unlock()
		pw.writeStatus()
		pw.teardown()
		pw.mu.Lock()
		pw.sandboxReady = false
		pw.mu.Unlock()
		pw.writeStatus()
	}

	// The status manager deletes the object only once the pod is terminal and its resources
	// are reclaimed; a pod that finished by itself stays until someone deletes it.
	<-pw.stopCtx.Done()
	if pw.k.ctx.Err() != nil {
		pw.abort()
		return
	}
	pw.deleteFromAPI()
	logEvent("pod.gone", pw.key, "")
}

// start sets up the sandbox and volumes, runs the init containers in order and starts the
// regular ones, as SyncPod does over several syncs. It returns early when the pod is to stop.
func (pw *podWorker) start() {
	pw.mu.Lock()
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	pw.startTime = &now
	pw.mu.Unlock()
	pw.kickStatus()

	if !pw.retry("sandbox", pw.setupSandbox) {
		return
	}
	if !pw.retry("volumes", func() error {
		paths, err := pw.setupVolumes(pw.stopCtx, pw.snapshot())
		if err == nil {
			pw.mu.Lock()
			pw.volumes = paths
			pw.mu.Unlock()
		}
		return err
	}) {
		return
	}

	for _, c := range pw.containers {
		switch c.kind {
		case initContainer:
			if !pw.runInit(c) {
				return
			}
		case sidecarContainer:
			// The next init container starts once this one counts as started.
			go pw.runContainer(c)
			select {
			case <-c.running:
			case <-pw.stopCtx.Done():
				return
			}
		}
	}
	pw.mu.Lock()
	pw.initialized = true
	pw.mu.Unlock()
	pw.kickStatus()

	for _, c := range pw.containers {
		if c.kind != regularContainer {
			continue
		}
		// The kubelet starts them one after the other, each postStart hook blocking the next.
		go pw.runContainer(c)
		select {
		case <-c.attempted:
		case <-pw.stopCtx.Done():
			return
		}
	}
}

// retry repeats a start-up step until it works or the pod is to stop, with a growing pause.
func (pw *podWorker) retry(what string, step func() error) bool {
	for failures := 0; ; failures++ {
		err := step()
		if err == nil {
			return true
		}
		logError(pw.key, "", what, err)
		if !pw.sleep(backoff(failures + 1)) {
			return false
		}
	}
}

func backoff(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := time.Second << min(failures-1, 4)
	return min(d, maxBackoff)
}

// sleep waits d unless the pod is to stop first.
func (pw *podWorker) sleep(d time.Duration) bool {
	if d <= 0 {
		return pw.stopCtx.Err() == nil
	}
	select {
	case <-time.After(d):
		return true
	case <-pw.stopCtx.Done():
		return false
	}
}

// setupSandbox is the pod's network namespace, its directories and /etc/hosts.
func (pw *podWorker) setupSandbox() error {
	pod := pw.snapshot()
	for _, dir := range []string{pw.dir, pw.logDir, filepath.Join(pw.dir, "volumes")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	slot, err := pw.k.net.allocate()
	if err != nil {
		return err
	}
	if err := pw.k.net.create(slot); err != nil {
		pw.k.net.release(slot)
		return err
	}
	ip := pw.k.net.podIP(slot)
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n", ip, podHostname(pod))
	if err := os.WriteFile(filepath.Join(pw.dir, "etc-hosts"), []byte(hosts), 0o644); err != nil {
		pw.k.net.remove(slot)
		pw.k.net.release(slot)
		return err
	}
	pw.mu.Lock()
	pw.slot, pw.ip, pw.sandboxReady = slot, ip, true
	pw.mu.Unlock()
	logEvent("pod.started", pw.key, "", "ip", ip, "netns", pw.k.net.nsPath(slot), "dir", pw.dir)
	pw.kickStatus()
	return nil
}

// runInit runs an init container to completion, again after a failure unless the pod's
// restartPolicy is Never. False: the pod is to stop, or failed.
func (pw *podWorker) runInit(c *container) bool {
	for failures := 0; ; {
		p := pw.startContainer(c)
		if p == nil {
			failures++
			if !pw.sleep(backoff(failures)) {
				return false
			}
			continue
		}
		pw.setStarted(p)
		select {
		case <-p.done:
		case <-pw.stopCtx.Done():
			return false
		}
		if p.exitCode == 0 {
			return true
		}
		if pw.snapshot().Spec.RestartPolicy == v1.RestartPolicyNever {
			pw.mu.Lock()
			pw.initFailed = true
			pw.mu.Unlock()
			pw.finish()
			return false
		}
		failures++
		if !pw.crashLoopBackOff(c, backoff(failures)) {
			return false
		}
	}
}

// runContainer keeps a sidecar or regular container running: start, postStart, probes, and a
// restart after it exits or fails its liveness probe, as restartPolicy (always, for a sidecar)
// says. It returns when the pod is stopping or the container is done for good.
func (pw *podWorker) runContainer(c *container) {
	defer c.onceA.Do(func() { close(c.attempted) })
	defer c.onceR.Do(func() { close(c.running) })
	failures := 0
	for {
		p := pw.startContainer(c)
		if p == nil {
			c.onceA.Do(func() { close(c.attempted) })
			if pw.isTerminating() {
				return
			}
			failures++
			if !pw.sleep(backoff(failures)) {
				return
			}
			continue
		}
		pw.startProbes(p)
		if pw.postStart(p) && c.spec.StartupProbe == nil {
			pw.setStarted(p)
		}
		c.onceA.Do(func() { close(c.attempted) })

		select {
		case <-p.done:
		case <-p.unhealthy:
			grace := int64(defaultGraceSecs)
			pod := pw.snapshot()
			if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
				grace = *g
			}
			for _, pr := range []*v1.Probe{c.spec.LivenessProbe, c.spec.StartupProbe} {
				if pr != nil && pr.TerminationGracePeriodSeconds != nil {
					grace = *pr.TerminationGracePeriodSeconds
				}
			}
			pw.killContainer(p, grace, nil)
			<-p.done
		}
		if pw.isTerminating() {
			return
		}
		restart := c.kind == sidecarContainer
		switch pw.snapshot().Spec.RestartPolicy {
		case v1.RestartPolicyAlways, "":
			restart = true
		case v1.RestartPolicyOnFailure:
			restart = restart || p.exitCode != 0
		}
		if !restart {
			pw.containerFinished(c)
			return
		}
		if time.Since(p.startedAt) > 2*maxBackoff {
			failures = 0 // it ran for a good while: not a crash loop
		}
		delay := backoff(failures) // the first restart is immediate
		failures++
		if !pw.crashLoopBackOff(c, delay) {
			return
		}
	}
}

// crashLoopBackOff shows the container waiting until its restart.
func (pw *podWorker) crashLoopBackOff(c *container, delay time.Duration) bool {
	if delay > 0 {
		pw.mu.Lock()
		if c.state.Terminated != nil {
			c.lastState = c.state
		}
		c.state = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{
			Reason:  "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, c.spec.Name, pw.pod.Name, pw.pod.Namespace, pw.uid),
		}}
		pw.mu.Unlock()
		pw.kickStatus()
	}
	return pw.sleep(delay)
}

// postStart runs the hook right after the start, as the kubelet does before it counts the
// container started. A failing hook gets the container killed (and restarted by policy).
func (pw *podWorker) postStart(p *process) bool {
	lc := p.c.spec.Lifecycle
	if lc == nil || lc.PostStart == nil {
		return true
	}
	name := p.c.spec.Name
	logEvent("poststart.started", pw.key, name, "handler", handlerKind(lc.PostStart))
	out := pw.hookLog(name)
	code, err := pw.runHandler(p, lc.PostStart, out)
	out.Close()
	if err == nil && code == 0 {
		logEvent("poststart.exited", pw.key, name, "code", code)
		return true
	}
	kv := []any{"code", code}
	if err != nil {
		kv = append(kv, "error", err.Error())
	}
	logEvent("poststart.failed", pw.key, name, kv...)
	grace := int64(defaultGraceSecs)
	if g := pw.snapshot().Spec.TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	go pw.killContainer(p, grace, nil)
	return false
}

// hookLog is where a hook's output goes: beside the container's log, kept after the pod.
func (pw *podWorker) hookLog(name string) *os.File {
	f, err := os.OpenFile(filepath.Join(pw.logDir, name+".hooks.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		f, _ = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	return f
}

func (pw *podWorker) setStarted(p *process) {
	pw.mu.Lock()
	c := p.c
	if c.proc == p && !p.exited() {
		c.started = true
		// Without a readiness probe a started container is ready.
		if c.spec.ReadinessProbe == nil {
			c.ready = true
		}
	}
	pw.mu.Unlock()
	p.markStarted()
	c.onceR.Do(func() { close(c.running) })
	pw.kickStatus()
}

func (pw *podWorker) setReady(p *process, ready bool, msg string) {
	pw.mu.Lock()
	c := p.c
	changed := c.proc == p && !p.exited() && c.ready != ready
	if changed {
		c.ready = ready
	}
	pw.mu.Unlock()
	if !changed {
		return
	}
	if ready {
		logEvent("probe.ready", pw.key, c.spec.Name)
	} else {
		logEvent("probe.not_ready", pw.key, c.spec.Name, "message", msg)
	}
	pw.kickStatus()
}

// startContainer pulls the image, builds the config and starts one run of c. nil: it could
// not, and the container's state says why.
func (pw *podWorker) startContainer(c *container) *process {
	name := c.spec.Name
	pod := pw.snapshot()
	setWaiting := func(reason, msg string) {
		pw.mu.Lock()
		if c.state.Terminated != nil {
			c.lastState = c.state
		}
		c.state = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reason, Message: msg}}
		pw.mu.Unlock()
		pw.kickStatus()
	}

	img, err := pw.k.images.pull(c.spec.Image)
	if err != nil {
		reason := "ErrImagePull"
		if c.pullFailures > 0 {
			reason = "ImagePullBackOff"
		}
		c.pullFailures++
		logEvent("image.pull_failed", pw.key, name, "image", c.spec.Image, "reason", reason, "message", err.Error())
		setWaiting(reason, err.Error())
		return nil
	}
	c.pullFailures = 0

	setWaiting("ContainerCreating", "")
	cfg, err := pw.containerConfig(pw.stopCtx, pod, c.spec, img)
	if err != nil {
		reason := "CreateContainerError"
		var ce configError
		if errors.As(err, &ce) {
			reason = "CreateContainerConfigError"
		}
		logError(pw.key, name, reason, err)
		setWaiting(reason, err.Error())
		return nil
	}
	dir := pw.containerDir(name)
	if err := os.MkdirAll(cfg.Rootfs, 0o755); err != nil {
		setWaiting("CreateContainerError", err.Error())
		return nil
	}
	// A fresh termination log for every run; 0666 so any container user can write it.
	if err := os.WriteFile(cfg.TerminationLog, nil, 0o666); err != nil || os.Chmod(cfg.TerminationLog, 0o666) != nil {
		setWaiting("CreateContainerError", fmt.Sprint(err))
		return nil
	}

	if pw.isTerminating() {
		return nil
	}
	pw.mu.Lock()
	netns := pw.k.net.nsPath(pw.slot)
	pw.mu.Unlock()
	p, err := pw.k.spawn(cfg, netns, filepath.Join(pw.logDir, name+".log"))
	if err != nil {
		logError(pw.key, name, "start", err)
		setWaiting("RunContainerError", err.Error())
		return nil
	}
	pw.mu.Lock()
	if pw.terminating {
		// The pod began to stop while this run was being set up; it never counted as started.
		pw.mu.Unlock()
		p.sigkill()
		p.wait()
		return nil
	}
	p.c = c
	if c.proc != nil {
		c.restartCount++
	}
	if c.state.Terminated != nil {
		c.lastState = c.state
	}
	c.proc = p
	c.imageID = img.ID
	c.started, c.ready = false, false
	c.state = v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: metav1.NewTime(p.startedAt)}}
	restarts := c.restartCount
	pw.mu.Unlock()
	logEvent("container.started", pw.key, name, "pid", p.pid, "restart_count", restarts, "dir", dir)
	go pw.reap(p)
	pw.kickStatus()
	return p
}

// reap waits for a run to end and records how it ended.
func (pw *podWorker) reap(p *process) {
	code := p.wait()
	c := p.c
	finished := metav1.NewTime(time.Now())
	msg := pw.terminationMessage(c, p.cfg, code)
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	pw.mu.Lock()
	if c.proc == p {
		c.state = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
			ExitCode:    int32(code),
			Reason:      reason,
			Message:     msg,
			StartedAt:   metav1.NewTime(p.startedAt),
			FinishedAt:  finished,
			ContainerID: fmt.Sprintf("process://%d", p.pid),
		}}
		c.started, c.ready = false, false
	}
	pw.mu.Unlock()
	p.mu.Lock()
	killed := p.sigkilled
	p.mu.Unlock()
	if killed {
		logEvent("container.killed", pw.key, c.spec.Name, "code", code, "pid", p.pid)
	} else {
		logEvent("container.exited", pw.key, c.spec.Name, "code", code, "pid", p.pid)
	}
	close(p.done)
	pw.kickStatus()
}

// terminationMessage is the termination log's content (at most 4 KiB), or with
// FallbackToLogsOnError and a failure, the end of the container's log.
func (pw *podWorker) terminationMessage(c *container, cfg *containerConfig, code int) string {
	data, _ := os.ReadFile(cfg.TerminationLog)
	if len(data) > 4096 {
		data = data[:4096]
	}
	if len(data) == 0 && code != 0 && c.spec.TerminationMessagePolicy == v1.TerminationMessageFallbackToLogsOnError {
		logData, _ := os.ReadFile(filepath.Join(pw.logDir, c.spec.Name+".log"))
		if len(logData) > 2048 {
			logData = logData[len(logData)-2048:]
		}
		data = logData
	}
	return string(data)
}

func (pw *podWorker) containerFinished(c *container) {
	pw.mu.Lock()
	c.finished = true
	all := true
	for _, other := range pw.containers {
		if other.kind == regularContainer && !other.finished {
			all = false
		}
	}
	pw.mu.Unlock()
	if all {
		pw.finish()
	}
}

func (pw *podWorker) finish() {
	pw.finishOnce.Do(func() { close(pw.finished) })
}
