package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const probeUserAgent = "kube-probe/1.35"

type probeKind string

const (
	readiness probeKind = "readiness"
	liveness  probeKind = "liveness"
	startup   probeKind = "startup"
)

type probeResult int

const (
	probeSuccess probeResult = iota
	probeFailure
	probeUnknown // an error on the prober's side: the result stands as it was
)

// startProbes runs the container's probe workers for one run of it, as pkg/kubelet/prober does
// for one container ID.
func (pw *podWorker) startProbes(p *process) {
	spec := p.c.spec
	for kind, probe := range map[probeKind]*v1.Probe{
		readiness: spec.ReadinessProbe, liveness: spec.LivenessProbe, startup: spec.StartupProbe,
	} {
		if probe != nil {
			go pw.probeWorker(p, kind, probe)
		}
	}
}

// probeWorker follows prober/worker.go: nothing until initialDelaySeconds after the start, a
// probe every periodSeconds, a result only after failureThreshold (successThreshold) equal
// results in a row. Readiness and liveness wait for the container to count as started;
// readiness runs once right away then, as the kubelet's status sync triggers it. Readiness
// goes on while the pod terminates; liveness and startup stop, as the kubelet treats them as
// passing then.
func (pw *podWorker) probeWorker(p *process, kind probeKind, probe *v1.Probe) {
	c := p.c
	period := time.Duration(max(probe.PeriodSeconds, 1)) * time.Second
	delay := time.Duration(probe.InitialDelaySeconds) * time.Second
	if kind != startup {
		select {
		case <-p.started:
		case <-p.done:
			return
		}
	}
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	last, run := probeUnknown, 0
	immediate := kind == readiness
	for {
		if !immediate {
			select {
			case <-ticker.C:
			case <-p.done:
				return
			case <-pw.k.ctx.Done():
				return
			}
		}
		immediate = false
		if p.exited() {
			return
		}
		if kind != readiness && pw.isDeleting() {
			return
		}
		if time.Since(p.startedAt) < delay {
			continue
		}
		result, msg := pw.probe(p, probe)
		if result == probeUnknown {
			logEvent("probe.error", pw.key, c.spec.Name, "probe", string(kind), "message", msg)
			continue
		}
		if result == last {
			run++
		} else {
			last, run = result, 1
		}
		if (result == probeFailure && run < int(max(probe.FailureThreshold, 1))) ||
			(result == probeSuccess && run < int(max(probe.SuccessThreshold, 1))) {
			continue
		}
		switch kind {
		case readiness:
			pw.setReady(p, result == probeSuccess, msg)
		case liveness:
			if result == probeFailure {
				logEvent("probe.liveness_failed", pw.key, c.spec.Name, "message", msg)
				p.markUnhealthy()
				return
			}
		case startup:
			if result == probeSuccess {
				pw.setStarted(p)
			} else {
				logEvent("probe.startup_failed", pw.key, c.spec.Name, "message", msg)
				p.markUnhealthy()
			}
			return
		}
	}
}

// probe runs one probe against the running container p.
func (pw *podWorker) probe(p *process, probe *v1.Probe) (probeResult, string) {
	timeout := time.Duration(max(probe.TimeoutSeconds, 1)) * time.Second
	switch {
	case probe.HTTPGet != nil:
		return pw.httpGet(p, probe.HTTPGet, timeout)
	case probe.TCPSocket != nil:
		port, err := resolvePort(probe.TCPSocket.Port, p.c.spec)
		if err != nil {
			return probeUnknown, err.Error()
		}
		host := probe.TCPSocket.Host
		if host == "" {
			host = pw.podIP()
		}
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), timeout)
		if err != nil {
			return probeFailure, err.Error()
		}
		conn.Close()
		return probeSuccess, ""
	case probe.Exec != nil:
		var out bytes.Buffer
		code, err := pw.k.execIn(p, probe.Exec.Command, timeout, &limitedWriter{w: &out, n: 10 << 10})
		if err != nil {
			return probeFailure, err.Error()
		}
		if code != 0 {
			return probeFailure, fmt.Sprintf("exit code %d: %s", code, strings.TrimSpace(out.String()))
		}
		return probeSuccess, ""
	}
	return probeUnknown, "unsupported probe handler"
}

// httpGet is the kubelet's HTTP probe: the pod IP unless a host is given, its own User-Agent,
// no connection reuse, and any status from 200 to 399 passes. A redirect to another host is
// not followed and counts by its own status, which passes.
func (pw *podWorker) httpGet(p *process, h *v1.HTTPGetAction, timeout time.Duration) (probeResult, string) {
	port, err := resolvePort(h.Port, p.c.spec)
	if err != nil {
		return probeUnknown, err.Error()
	}
	host := h.Host
	if host == "" {
		host = pw.podIP()
	}
	scheme := strings.ToLower(string(h.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := h.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if parsed, err := url.Parse(path); err == nil {
		u.Path, u.RawQuery = parsed.Path, parsed.RawQuery
	} else {
		u.Path = path
	}
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return probeUnknown, err.Error()
	}
	req.Header.Set("User-Agent", probeUserAgent)
	req.Header.Set("Accept", "*/*")
	for _, header := range h.HTTPHeaders {
		if strings.EqualFold(header.Name, "Host") {
			req.Host = header.Value
		} else {
			req.Header.Add(header.Name, header.Value)
		}
	}
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			Proxy:             nil,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		},
		CheckRedirect: func(next *http.Request, via []*http.Request) error {
			if next.URL.Hostname() != req.URL.Hostname() || len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return probeFailure, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return probeSuccess, ""
	}
	return probeFailure, fmt.Sprintf("HTTP probe failed with statuscode: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

// resolvePort turns a probe's port into a number: a named port must be one of the container's.
func resolvePort(port intstr.IntOrString, c *v1.Container) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == port.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port %q in container %s", port.StrVal, c.Name)
}

// runHandler runs a lifecycle hook (postStart or preStop) against p and returns its exit code:
// 0 for success; an HTTP hook gives 1 for a failing status. Exec hooks write to out.
func (pw *podWorker) runHandler(p *process, h *v1.LifecycleHandler, out io.Writer) (int, error) {
	switch {
	case h.Exec != nil:
		return pw.k.execIn(p, h.Exec.Command, 0, out)
	case h.HTTPGet != nil:
		result, msg := pw.httpGet(p, h.HTTPGet, 0)
		if result != probeSuccess {
			return 1, fmt.Errorf("%s", msg)
		}
		return 0, nil
	case h.Sleep != nil:
		select {
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		case <-pw.k.ctx.Done():
		}
		return 0, nil
	}
	return -1, fmt.Errorf("unsupported lifecycle handler")
}

func handlerKind(h *v1.LifecycleHandler) string {
	switch {
	case h.Exec != nil:
		return "exec"
	case h.HTTPGet != nil:
		return "httpGet"
	case h.Sleep != nil:
		return "sleep"
	}
	return "unknown"
}

// limitedWriter keeps the first n bytes and drops the rest, so a chatty command cannot grow it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n > 0 {
		keep := b
		if len(keep) > l.n {
			keep = keep[:l.n]
		}
		l.n -= len(keep)
		_, _ = l.w.Write(keep)
	}
	return len(b), nil
}
