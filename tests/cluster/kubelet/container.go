package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
)

const (
	nsenterCmd  = "/usr/bin/nsenter"
	specEnv     = "PROCESS_KUBELET_SPEC" // how container-init and container-exec get their containerConfig
	defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// containerConfig is all a container's process needs to set itself up: the host side decides,
// container-init (containerinit.go) carries it out inside the new namespaces.
type containerConfig struct {
	Rootfs          string      `json:"rootfs"`    // host directory the container's root is mounted on
	ImageRoot       string      `json:"imageRoot"` // copied onto a tmpfs there
	Hostname        string      `json:"hostname"`
	Hosts           string      `json:"hosts"`          // host file bound at /etc/hosts
	TerminationLog  string      `json:"terminationLog"` // host file bound at TerminationPath
	TerminationPath string      `json:"terminationPath"`
	Mounts          []mountSpec `json:"mounts"`
	ReadOnlyRoot    bool        `json:"readOnlyRoot"`
	NoNewPrivs      bool        `json:"noNewPrivs"`
	UID             uint32      `json:"uid"`
	GID             uint32      `json:"gid"`
	Groups          []uint32    `json:"groups"`
	WorkDir         string      `json:"workDir"`
	Argv            []string    `json:"argv"`
	Env             []string    `json:"env"`
}

type mountSpec struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly"`
}

// configError is a container the kubelet refuses to create (CreateContainerConfigError).
type configError struct{ error }

// containerConfig turns a container spec and its image into a containerConfig as the kubelet
// and the runtime would: the runtime's argv and user rules, env on top of the image's.
func (pw *podWorker) containerConfig(ctx context.Context, pod *v1.Pod, c *v1.Container, img *image) (*containerConfig, error) {
	env, vars, err := pw.containerEnv(ctx, pod, c)
	if err != nil {
		return nil, configError{err}
	}
	argv, err := containerArgv(c, img, vars)
	if err != nil {
		return nil, configError{err}
	}
	uid, gid, groups, err := containerUser(pod, c, img)
	if err != nil {
		return nil, configError{err}
	}

	// The runtime merges the container's env over the image's, keeping the image's order.
	merged := append([]envVar(nil), parseEnv(img.Config.Env)...)
	for _, e := range env {
		replaced := false
		for i := range merged {
			if merged[i].name == e.name {
				merged[i].value, replaced = e.value, true
			}
		}
		if !replaced {
			merged = append(merged, e)
		}
	}
	hostname := podHostname(pod)
	defaults := []envVar{{"PATH", defaultPath}, {"HOSTNAME", hostname}, {"HOME", homeDir(img, uid)}}
	var envList []string
	have := map[string]bool{}
	for _, e := range merged {
		envList = append(envList, e.name+"="+e.value)
		have[e.name] = true
	}
	for _, e := range defaults {
		if !have[e.name] {
			envList = append(envList, e.name+"="+e.value)
		}
	}

	var mounts []mountSpec
	for _, m := range c.VolumeMounts {
		src, ok := pw.volumePath(m.Name)
		if !ok {
			return nil, configError{fmt.Errorf("volume %q is not set up", m.Name)}
		}
		if m.SubPath != "" {
			src = filepath.Join(src, filepath.Clean("/"+m.SubPath))
			if err := os.MkdirAll(src, 0o777); err != nil {
				return nil, configError{err}
			}
		}
		mounts = append(mounts, mountSpec{Source: src, Target: m.MountPath, ReadOnly: m.ReadOnly})
	}

	dir := pw.containerDir(c.Name)
	workDir := c.WorkingDir
	if workDir == "" {
		workDir = img.Config.WorkingDir
	}
	if workDir == "" {
		workDir = "/"
	}
	termPath := c.TerminationMessagePath
	if termPath == "" {
		termPath = v1.TerminationMessagePathDefault
	}
	sc := c.SecurityContext
	return &containerConfig{
		Rootfs:          filepath.Join(dir, "rootfs"),
		ImageRoot:       img.Root,
		Hostname:        hostname,
		Hosts:           filepath.Join(pw.dir, "etc-hosts"),
		TerminationLog:  filepath.Join(dir, "termination-log"),
		TerminationPath: termPath,
		Mounts:          mounts,
		ReadOnlyRoot:    sc != nil && ptrTrue(sc.ReadOnlyRootFilesystem),
		NoNewPrivs:      sc != nil && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation,
		UID:             uid,
		GID:             gid,
		Groups:          groups,
		WorkDir:         workDir,
		Argv:            argv,
		Env:             envList,
	}, nil
}

// containerArgv: command replaces the image's Entrypoint and drops its Cmd, args replace Cmd;
// $(VAR) in either expands from the container's env (not the image's).
func containerArgv(c *v1.Container, img *image, vars map[string]string) ([]string, error) {
	lookup := func(name string) (string, bool) { v, ok := vars[name]; return v, ok }
	expandAll := func(words []string) []string {
		out := make([]string, len(words))
		for i, w := range words {
			out[i] = expand(w, lookup)
		}
		return out
	}
	command, args := expandAll(c.Command), expandAll(c.Args)
	var argv []string
	switch {
	case len(command) > 0:
		argv = append(command, args...)
	case len(args) > 0:
		argv = append(append(argv, img.Config.Entrypoint...), args...)
	default:
		argv = append(append(argv, img.Config.Entrypoint...), img.Config.Cmd...)
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("no command specified")
	}
	return argv, nil
}

// containerUser picks uid and gid as the runtime does (runAsUser/runAsGroup over the image's
// User) and applies runAsNonRoot as the kubelet does before creating the container.
func containerUser(pod *v1.Pod, c *v1.Container, img *image) (uid, gid uint32, groups []uint32, err error) {
	var runAsUser, runAsGroup *int64
	var runAsNonRoot *bool
	if psc := pod.Spec.SecurityContext; psc != nil {
		runAsUser, runAsGroup, runAsNonRoot = psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot
		for _, g := range psc.SupplementalGroups {
			groups = append(groups, uint32(g))
		}
		if psc.FSGroup != nil {
			groups = append(groups, uint32(*psc.FSGroup))
		}
	}
	if csc := c.SecurityContext; csc != nil {
		if csc.RunAsUser != nil {
			runAsUser = csc.RunAsUser
		}
		if csc.RunAsGroup != nil {
			runAsGroup = csc.RunAsGroup
		}
		if csc.RunAsNonRoot != nil {
			runAsNonRoot = csc.RunAsNonRoot
		}
	}

	user, group, _ := strings.Cut(img.Config.User, ":")
	gidKnown := false
	switch {
	case runAsUser != nil:
		uid = uint32(*runAsUser)
	case user == "":
		uid = 0
	default:
		if n, perr := strconv.ParseUint(user, 10, 32); perr == nil {
			uid = uint32(n)
		} else {
			if ptrTrue(runAsNonRoot) {
				return 0, 0, nil, fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", user, pod.Namespace+"/"+pod.Name, c.Name)
			}
			var ok bool
			if uid, gid, ok = lookupPasswd(img.Root, user); !ok {
				return 0, 0, nil, fmt.Errorf("unable to find user %s in the image's /etc/passwd", user)
			}
			gidKnown = true
		}
		if group != "" {
			if n, perr := strconv.ParseUint(group, 10, 32); perr == nil {
				gid, gidKnown = uint32(n), true
			} else if g, ok := lookupGroup(img.Root, group); ok {
				gid, gidKnown = g, true
			} else {
				return 0, 0, nil, fmt.Errorf("unable to find group %s in the image's /etc/group", group)
			}
		}
	}
	if ptrTrue(runAsNonRoot) && uid == 0 {
		return 0, 0, nil, fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", pod.Namespace+"/"+pod.Name, c.Name)
	}
	switch {
	case runAsGroup != nil:
		gid = uint32(*runAsGroup)
	case runAsUser != nil || !gidKnown:
		// The runtime takes the primary group of the uid from the image, else 0.
		if _, g, ok := lookupPasswdUID(img.Root, uid); ok {
			gid = g
		} else {
			gid = 0
		}
	}
	return uid, gid, groups, nil
}

func lookupPasswd(root, name string) (uid, gid uint32, ok bool) {
	for _, f := range colonFile(filepath.Join(root, "etc/passwd")) {
		if len(f) >= 4 && f[0] == name {
			u, err1 := strconv.ParseUint(f[2], 10, 32)
			g, err2 := strconv.ParseUint(f[3], 10, 32)
			return uint32(u), uint32(g), err1 == nil && err2 == nil
		}
	}
	return 0, 0, false
}

func lookupPasswdUID(root string, uid uint32) (home string, gid uint32, ok bool) {
	for _, f := range colonFile(filepath.Join(root, "etc/passwd")) {
		if len(f) >= 6 && f[2] == strconv.FormatUint(uint64(uid), 10) {
			g, err := strconv.ParseUint(f[3], 10, 32)
			return f[5], uint32(g), err == nil
		}
	}
	return "", 0, false
}

func lookupGroup(root, name string) (uint32, bool) {
	for _, f := range colonFile(filepath.Join(root, "etc/group")) {
		if len(f) >= 3 && f[0] == name {
			g, err := strconv.ParseUint(f[2], 10, 32)
			return uint32(g), err == nil
		}
	}
	return 0, false
}

func colonFile(path string) [][]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	s := bufio.NewScanner(f)
	for s.Scan() {
		out = append(out, strings.Split(s.Text(), ":"))
	}
	return out
}

func homeDir(img *image, uid uint32) string {
	if home, _, ok := lookupPasswdUID(img.Root, uid); ok && home != "" {
		return home
	}
	return "/"
}

func parseEnv(list []string) []envVar {
	var out []envVar
	for _, kv := range list {
		name, value, _ := strings.Cut(kv, "=")
		out = append(out, envVar{name, value})
	}
	return out
}

func podHostname(pod *v1.Pod) string {
	name := pod.Name
	if pod.Spec.Hostname != "" {
		name = pod.Spec.Hostname
	}
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-.")
	}
	return name
}

// process is one run of a container: what Kubernetes calls a container ID.
type process struct {
	c         *container
	cmd       *exec.Cmd
	pid       int
	cfg       *containerConfig
	startedAt time.Time
	done      chan struct{} // closed once reaped
	started   chan struct{} // closed once the container counts as started (postStart, startup probe)
	unhealthy chan struct{} // closed when liveness or startup probing gives up on it

	mu        sync.Mutex
	exitCode  int
	reaped    bool
	killing   bool // a kill with its preStop is under way
	sigkilled bool
	execs     map[*exec.Cmd]bool // hooks and exec probes running inside
	startOnce sync.Once
	failOnce  sync.Once
}

// spawn starts a container's process: nsenter joins the pod's network namespace, the clone
// flags give it a mount, UTS and pid namespace of its own, and container-init does the rest. The
// process keeps its pid through both execs, so the pid is the container's. Its own process
// group lets a SIGKILL reach whatever it started, and nothing else.
//
// Like a runtime's start, it returns once the container is set up: container-init holds the
// write end of a pipe that closes when it execs the workload (or exits). Until then nothing may
// enter the process's namespaces: they are not all joined yet and the root is not built.
func (k *kubelet) spawn(cfg *containerConfig, netns, logPath string) (*process, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	setupR, setupW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer setupR.Close()
	cmd := exec.Command(nsenterCmd, "--net="+netns, "--", k.self, "container-init")
	cmd.Env = []string{specEnv + "=" + string(data)}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{setupW} // fd 3 in container-init
	// A pid namespace of its own, as under a runtime: the workload is pid 1, so /proc/1/fd/1 is
	// its stdout (where prestop copies its summary for `kubectl logs`), and everything in it
	// dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true,
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWPID}
	err = cmd.Start()
	setupW.Close()
	if err != nil {
		return nil, err
	}
	_ = setupR.SetReadDeadline(time.Now().Add(2 * time.Minute))
	_, _ = io.Copy(io.Discard, setupR)
	return &process{
		cmd:       cmd,
		pid:       cmd.Process.Pid,
		cfg:       cfg,
		startedAt: time.Now(),
		done:      make(chan struct{}),
		started:   make(chan struct{}),
		unhealthy: make(chan struct{}),
		execs:     map[*exec.Cmd]bool{},
	}, nil
}

// wait reaps the process. A container ends with its main process, as one whose pid namespace
// dies would: what is left in its group and the hooks running inside are killed.
func (p *process) wait() int {
	_ = p.cmd.Wait()
	code := exitCode(p.cmd.ProcessState)
	p.mu.Lock()
	p.reaped = true
	p.exitCode = code
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	for cmd := range p.execs {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	p.mu.Unlock()
	return code
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) sigterm() {
	p.mu.Lock()
	if !p.reaped {
		_ = syscall.Kill(p.pid, syscall.SIGTERM)
	}
	p.mu.Unlock()
}

func (p *process) sigkill() {
	p.mu.Lock()
	if !p.reaped {
		p.sigkilled = true
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	}
	p.mu.Unlock()
}

// beginKill claims the kill of p; false if another one (a liveness restart) already has it.
func (p *process) beginKill() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killing {
		return false
	}
	p.killing = true
	return true
}

func (p *process) markStarted()   { p.startOnce.Do(func() { close(p.started) }) }
func (p *process) markUnhealthy() { p.failOnce.Do(func() { close(p.unhealthy) }) }

// execIn runs argv inside p's namespaces and root, as its user and with its environment, the
// way an exec probe or hook runs: no $(VAR) expansion. timeout 0 means none.
func (k *kubelet) execIn(p *process, argv []string, timeout time.Duration, out io.Writer) (int, error) {
	if len(argv) == 0 {
		return -1, fmt.Errorf("empty command")
	}
	cfg := *p.cfg
	cfg.Argv = argv
	data, err := json.Marshal(&cfg)
	if err != nil {
		return -1, err
	}
	// -p: nsenter forks the command into the container's pid namespace and waits for it.
	cmd := exec.Command(nsenterCmd, "-t", strconv.Itoa(p.pid), "-m", "-n", "-u", "-p", "--", k.self, "container-exec")
	cmd.Env = []string{specEnv + "=" + string(data)}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	p.mu.Lock()
	if p.reaped {
		p.mu.Unlock()
		return -1, fmt.Errorf("container has exited")
	}
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		return -1, err
	}
	p.execs[cmd] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.execs, cmd)
		p.mu.Unlock()
	}()

	waited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }()
	if timeout > 0 {
		select {
		case <-waited:
		case <-time.After(timeout):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-waited
			return -1, fmt.Errorf("command timed out after %s", timeout)
		}
	} else {
		<-waited
	}
	return exitCode(cmd.ProcessState), nil
}

// exitCode is what a runtime reports: the exit status, or 128 + the signal that ended it.
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
