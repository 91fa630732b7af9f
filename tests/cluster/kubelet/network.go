package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
)

const (
	ipCmd    = "/usr/sbin/ip"
	podSlots = 62 // /30 blocks of a /24, leaving .248 and up unused
)

// podNetwork hands out /30 blocks of the node's /24: slot k has the host end of a veth at
// .4k+1 and the pod at .4k+2. Names carry the third octet O, so two kubelets on one machine with
// different pod networks never touch each other's namespaces or links.
type podNetwork struct {
	prefix string // "10.210.N."
	octet  string // "O"

	mu   sync.Mutex
	used [podSlots]bool
	next int
}

func newPodNetwork(cidr string) (*podNetwork, error) {
	ip, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, err
	}
	ones, _ := ipnet.Mask.Size()
	ip4 := ip.To4()
	if ip4 == nil || ones != 24 {
		return nil, fmt.Errorf("--pod-network %q: want an IPv4 /24", cidr)
	}
	return &podNetwork{
		prefix: fmt.Sprintf("%d.%d.%d.", ip4[0], ip4[1], ip4[2]),
		octet:  fmt.Sprint(ip4[2]),
	}, nil
}

// names of slot k: the namespace, the host end of the veth and the pod end before it is
// renamed eth0 inside the namespace. Interface names must stay within 15 characters.
func (n *podNetwork) names(k int) (ns, host, peer string) {
	return fmt.Sprintf("ld%s-%d", n.octet, k), fmt.Sprintf("ld%sh%d", n.octet, k), fmt.Sprintf("ld%sp%d", n.octet, k)
}

func (n *podNetwork) hostIP(k int) string { return fmt.Sprintf("%s%d", n.prefix, 4*k+1) }
func (n *podNetwork) podIP(k int) string  { return fmt.Sprintf("%s%d", n.prefix, 4*k+2) }

func (n *podNetwork) nsPath(k int) string {
	ns, _, _ := n.names(k)
	return "/run/netns/" + ns
}

// allocate takes the next free slot after the last one taken, as host-local IPAM does, so a
// new pod does not get the address a pod gone a moment ago had.
func (n *podNetwork) allocate() (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := 0; i < podSlots; i++ {
		k := (n.next + i) % podSlots
		if !n.used[k] {
			n.used[k] = true
			n.next = (k + 1) % podSlots
			return k, nil
		}
	}
	return -1, fmt.Errorf("no free pod network slot: %d pods already", podSlots)
}

func (n *podNetwork) release(k int) {
	n.mu.Lock()
	n.used[k] = false
	n.mu.Unlock()
}

// create sets up slot k: its namespace with lo and eth0 up, the pod address and a default
// route through the host end, which answers for the node itself (the API, the probes).
func (n *podNetwork) create(k int) error {
	ns, host, peer := n.names(k)
	n.remove(k) // whatever an earlier run left under these names
	steps := [][]string{
		{"netns", "add", ns},
		{"link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns},
		{"-n", ns, "link", "set", peer, "name", "eth0"},
		{"-n", ns, "addr", "add", n.podIP(k) + "/30", "dev", "eth0"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"addr", "add", n.hostIP(k) + "/30", "dev", host},
		{"link", "set", host, "up"},
		{"-n", ns, "route", "add", "default", "via", n.hostIP(k)},
	}
	for _, args := range steps {
		if err := runIP(args...); err != nil {
			n.remove(k)
			return err
		}
	}
	return nil
}

// remove deletes slot k's namespace (which takes the veth pair with it) and the host end in
// case the namespace was already gone.
func (n *podNetwork) remove(k int) {
	ns, host, _ := n.names(k)
	if _, err := os.Stat("/run/netns/" + ns); err == nil {
		if err := runIP("netns", "delete", ns); err != nil {
			logError("", "", "delete netns", err)
		}
	}
	if _, err := os.Stat("/sys/class/net/" + host); err == nil {
		_ = runIP("link", "delete", host)
	}
}

// sweep removes every slot's namespace and link: at start, what a crashed run left; at stop,
// anything a pod worker did not get to.
func (n *podNetwork) sweep() {
	for k := 0; k < podSlots; k++ {
		n.remove(k)
	}
}

func runIP(args ...string) error {
	out, err := exec.Command(ipCmd, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
