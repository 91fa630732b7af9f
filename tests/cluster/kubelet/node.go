package main

import (
	"context"
	"os"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const (
	kubeletVersion   = "v1.35.4"
	heartbeatPeriod  = 10 * time.Second
	leaseDuration    = 40
	nodeLeaseNS      = "kube-node-lease"
	minGraceSeconds  = 2 // the kubelet's minimumGracePeriodInSeconds
	defaultGraceSecs = 30
)

// What the node offers; also what resourceFieldRef reports for a container without limits.
var nodeCapacity = v1.ResourceList{
	v1.ResourceCPU:    resource.MustParse("2"),
	v1.ResourceMemory: resource.MustParse("8Gi"),
	v1.ResourcePods:   resource.MustParse("60"),
}

// registerNode creates the Node, or takes over one left by an earlier run, and reports it
// Ready. It retries until the API answers: the control plane may still be starting.
func (k *kubelet) registerNode(ctx context.Context) error {
	for {
		node, err := k.ensureNode(ctx)
		if err == nil {
			err = k.updateNodeStatus(ctx, node)
		}
		if err == nil {
			err = k.renewLease(ctx, node)
		}
		if err == nil {
			logEvent("node.registered", "", "", "node", k.nodeName, "ip", k.apiHost)
			return nil
		}
		logError("", "", "register node", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func (k *kubelet) nodeLabels() map[string]string {
	return map[string]string{
		"kubernetes.io/hostname":  k.nodeName,
		"kubernetes.io/os":        "linux",
		"kubernetes.io/arch":      "amd64",
		"beta.kubernetes.io/os":   "linux",
		"beta.kubernetes.io/arch": "amd64",
	}
}

func (k *kubelet) ensureNode(ctx context.Context) (*v1.Node, error) {
	nodes := k.client.CoreV1().Nodes()
	node, err := nodes.Create(ctx, &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: k.nodeName, Labels: k.nodeLabels()},
	}, metav1.CreateOptions{})
	if err == nil || !apierrors.IsAlreadyExists(err) {
		return node, err
	}
	node, err = nodes.Get(ctx, k.nodeName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	changed := false
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	for key, value := range k.nodeLabels() {
		if node.Labels[key] != value {
			node.Labels[key] = value
			changed = true
		}
	}
	if changed {
		return nodes.Update(ctx, node, metav1.UpdateOptions{})
	}
	return node, nil
}

// updateNodeStatus posts the status a healthy kubelet posts: Ready, no pressure, the fixed
// capacity and this node's address. Conditions keep their transition time while unchanged.
func (k *kubelet) updateNodeStatus(ctx context.Context, node *v1.Node) error {
	now := metav1.Now()
	for attempt := 0; ; attempt++ {
		n := node.DeepCopy()
		n.Status.Capacity = nodeCapacity.DeepCopy()
		n.Status.Allocatable = nodeCapacity.DeepCopy()
		n.Status.Addresses = []v1.NodeAddress{
			{Type: v1.NodeInternalIP, Address: k.apiHost},
			{Type: v1.NodeHostName, Address: k.nodeName},
		}
		n.Status.NodeInfo = v1.NodeSystemInfo{
			KubeletVersion:          kubeletVersion,
			OperatingSystem:         "linux",
			Architecture:            "amd64",
			ContainerRuntimeVersion: "process://" + kubeletVersion,
			OSImage:                 "process-kubelet",
			KernelVersion:           kernelVersion(),
		}
		want := []v1.NodeCondition{
			{Type: v1.NodeMemoryPressure, Status: v1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
			{Type: v1.NodeDiskPressure, Status: v1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
			{Type: v1.NodePIDPressure, Status: v1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
			{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
		}
		var conditions []v1.NodeCondition
		for _, c := range want {
			c.LastHeartbeatTime = now
			c.LastTransitionTime = now
			for _, old := range n.Status.Conditions {
				if old.Type == c.Type && old.Status == c.Status {
					c.LastTransitionTime = old.LastTransitionTime
				}
			}
			conditions = append(conditions, c)
		}
		n.Status.Conditions = conditions
		_, err := k.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		if err == nil || attempt >= 3 || !apierrors.IsConflict(err) {
			return err
		}
		if node, err = k.client.CoreV1().Nodes().Get(ctx, k.nodeName, metav1.GetOptions{}); err != nil {
			return err
		}
	}
}

// renewLease is what the node lifecycle controller watches to decide the node is alive.
func (k *kubelet) renewLease(ctx context.Context, node *v1.Node) error {
	leases := k.client.CoordinationV1().Leases(nodeLeaseNS)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, k.nodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Name:      k.nodeName,
				Namespace: nodeLeaseNS,
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
				}},
			},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(k.nodeName),
				LeaseDurationSeconds: ptr.To[int32](leaseDuration),
				RenewTime:            &now,
			},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.HolderIdentity = ptr.To(k.nodeName)
	lease.Spec.LeaseDurationSeconds = ptr.To[int32](leaseDuration)
	lease.Spec.RenewTime = &now
	// A Lease from an earlier Node object of the same name would be collected with it.
	lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

func (k *kubelet) heartbeat(ctx context.Context) {
	ticker := time.NewTicker(heartbeatPeriod)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		node, err := k.client.CoreV1().Nodes().Get(ctx, k.nodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			node, err = k.ensureNode(ctx)
		}
		if err == nil {
			err = k.updateNodeStatus(ctx, node)
		}
		if err == nil {
			err = k.renewLease(ctx, node)
		}
		if err != nil && ctx.Err() == nil {
			logError("", "", "heartbeat", err)
		}
	}
}

func kernelVersion() string {
	data, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(data))
}
