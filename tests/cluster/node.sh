# The real node, sourced by cluster.sh: containerd (Debian's, with its CRI plugin), the kubelet
# and kube-proxy (iptables mode) at the release go.mod pins, a pod network from the CNI bridge
# plugin, and the images the chart uses, built from the tools without a registry.
#
# Everything lives under DIR/node, except what the kernel keeps machine-wide: the bridge, the
# pods' network namespaces, iptables rules, cgroups and a few sysctls. node_down removes each of
# those, and restores the sysctls the kubelet and the pod network change. Only one node can be
# up on a machine: kube-proxy owns the KUBE-* chains of the whole machine's iptables.
#
# Settings this VM needs, each with why (docs/REAL_NODE.md has the whole list):
# - restrict_oom_score_adj (containerd): root here lacks CAP_SYS_RESOURCE, so no process may
#   lower its oom_score_adj; every pod sandbox asks for -998 and runc fails with "can't get final
#   child's PID from pipe: EOF" (its debug log: "failed to update /proc/self/oom_score_adj:
#   Permission denied"). Restricted, the runtime keeps containerd's own 0 instead.
# - failCgroupV1: false: the VM mounts cgroup v1; kubelet 1.35 refuses it by default.
# - imageGCHighThresholdPercent: 100 and 0% eviction thresholds: the kubelet sees the host's
#   disk, and the images cannot be pulled again once collected (there is no registry).

node_lock=/run/lameduck-node.dir
pause_image=localhost/lameduck-pause:1
machine_sysctls=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables vm.overcommit_memory vm.panic_on_oom
                 kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

# make_images TOOLS_DIR: the pause, toolkit and demo agent images as OCI image layout tars in
# DIR/node/images. The toolkit image has exactly deploy/Dockerfile's final stage (a cluster test
# compares the two).
make_images() {
  local tools=$1 images=$dir/node/images
  mkdir -p "$images"
  g++ -std=c++20 -Os -static -s -o "$images/pause" "$here/images/pause.cpp"
  python3 "$here/images/oci_image.py" "$pause_image" "$images/pause.tar" \
    --user 65535:65535 --entrypoint '["/pause"]' "$images/pause:/pause"
  python3 "$here/images/oci_image.py" "docker.io/library/lameduck:$image_tag" "$images/lameduck.tar" \
    --user 65532:65532 --entrypoint '["/lameduck/bin/readyz-toggle"]' --cmd '["serve"]' \
    "$tools/prestop:/lameduck/bin/prestop" "$tools/readyz-toggle:/lameduck/bin/readyz-toggle" \
    "$tools/drain-wait:/lameduck/bin/drain-wait"
  python3 "$here/images/oci_image.py" "docker.io/library/lameduck-demo-agent:$image_tag" "$images/demo-agent.tar" \
    --user 65532:65532 --entrypoint '["/usr/local/bin/demo-agent"]' "$tools/demo-agent:/usr/local/bin/demo-agent"
}

write_node_configs() {
  local node=$dir/node
  cat >"$node/containerd.toml" <<EOF
version = 2
root = "$node/containerd/root"
state = "$node/containerd/state"
[grpc]
  address = "$node/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$node/cni"
EOF
  mkdir -p "$node/cni"
  cat >"$node/cni/10-lameduck.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "lameduck-$n",
  "plugins": [{
    "type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {"type": "host-local", "dataDir": "$node/cni-ipam",
             "ranges": [[{"subnet": "$pod_network", "gateway": "$gateway"}]],
             "routes": [{"dst": "0.0.0.0/0"}]}
  }]
}
EOF
  cat >"$node/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$node/containerd.sock
podLogsDirectory: $node/pod-logs
address: $address
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
imageGCHighThresholdPercent: 100
evictionHard: {nodefs.available: "0%", nodefs.inodesFree: "0%", imagefs.available: "0%"}
logging: {format: json, verbosity: 3}
EOF
  cat >"$node/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $pod_network
hostnameOverride: $node_name
bindAddress: $address
clientConnection: {kubeconfig: $dir/kube-proxy.kubeconfig}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
conntrack: {maxPerCore: 0}
iptables: {localhostNodePorts: false}
EOF
}

node_up() {
  local tools=$1
  if [ -f "$node_lock" ] && [ -d "$(cat "$node_lock")/run" ] && [ -f "$(cat "$node_lock")/run/order" ]; then
    die "a node is up already, for the cluster in $(cat "$node_lock"): kube-proxy owns the machine's KUBE-* iptables chains, so only one can run"
  fi
  for tool in containerd runc ctr iptables; do
    command -v "$tool" >/dev/null || die "the node needs $tool (apt-get install containerd runc containernetworking-plugins iptables)"
  done
  [ -x /usr/lib/cni/bridge ] || die "the node needs the CNI plugins in /usr/lib/cni (apt-get install containernetworking-plugins)"
  echo "$dir" >"$node_lock"
  mkdir -p "$dir/node"
  local sysctl_name
  for sysctl_name in "${machine_sysctls[@]}"; do
    echo "$sysctl_name=$(sysctl -n "$sysctl_name" 2>/dev/null)" >>"$dir/node/sysctls.saved"
  done
  ip netns list | awk '{print $1}' >"$dir/node/netns.before"
  make_images "$tools"
  write_node_configs
  # The pod network's bridge, made before any pod so that the host can reach the Service range
  # from an address of the cluster's own: the load the tests send to a ClusterIP leaves from
  # the gateway address, and kube-proxy's DNAT sends it on to a pod.
  modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
  ip link add "$bridge" type bridge
  ip addr add "$gateway/${pod_network#*/}" dev "$bridge"
  ip link set "$bridge" up
  ip route add "$service_range" dev "$bridge" src "$gateway"

  log "starting containerd, the kubelet and kube-proxy as node $node_name, pods on $pod_network"
  start containerd containerd --config "$dir/node/containerd.toml"
  wait_for_file containerd "$dir/node/containerd.sock"
  local image
  for image in pause lameduck demo-agent; do
    ctr --address "$dir/node/containerd.sock" -n k8s.io images import \
      "$dir/node/images/$image.tar" >/dev/null
  done
  start kubelet "$bin/kubelet" --config "$dir/node/kubelet.yaml" --kubeconfig "$dir/node.kubeconfig" \
    --hostname-override "$node_name" --node-ip "$address" \
    --root-dir "$dir/node/kubelet" --cert-dir "$dir/node/kubelet/pki"
  start kube-proxy "$bin/kube-proxy" --config "$dir/node/kube-proxy.yaml"
  # kubectl wait fails at once on a node that has not registered yet.
  local kubectl=("$bin/kubectl" --kubeconfig "$dir/admin.kubeconfig")
  for _ in $(seq 1 300); do
    "${kubectl[@]}" get "node/$node_name" >/dev/null 2>&1 && break
    sleep 0.1
  done
  "${kubectl[@]}" wait --for=condition=Ready "node/$node_name" --timeout=90s >/dev/null ||
    die "node $node_name is not Ready after 90 s (its log: $dir/logs/kubelet.log)"
  wait_healthy kube-proxy "http://127.0.0.1:10256/healthz"
}

# wait_for_file NAME PATH: until PATH exists, the process still running.
wait_for_file() {
  local name=$1 path=$2 pid
  pid=$(cat "$dir/run/$name.pid")
  for _ in $(seq 1 300); do
    [ -e "$path" ] && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$dir/logs/$name.log" >&2; die "$name exited while starting"; }
    sleep 0.1
  done
  die "$name made no $path in 30 s (its log: $dir/logs/$name.log)"
}

# After the kubelet has stopped: every container the runtime still runs, then containerd.
stop_containers() {
  local socket=$dir/node/containerd.sock task
  [ -S "$socket" ] || return 0
  for task in $(ctr --address "$socket" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr --address "$socket" -n k8s.io tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
  done
  for task in $(ctr --address "$socket" -n k8s.io tasks ls -q 2>/dev/null); do
    for _ in $(seq 1 50); do
      ctr --address "$socket" -n k8s.io tasks rm "$task" >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  ctr --address "$socket" -n k8s.io containers ls -q 2>/dev/null |
    xargs -r ctr --address "$socket" -n k8s.io containers rm >/dev/null 2>&1 || true
}

# Rules that jump to a KUBE-* chain, then the chains themselves, in every table of both families.
remove_kube_chains() {
  local tool table rule chain
  for tool in iptables ip6tables; do
    command -v "$tool" >/dev/null || continue
    for table in filter nat mangle; do
      "$tool" -t "$table" -S 2>/dev/null | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*KUBE-' |
        while read -r rule; do eval "$tool -t $table ${rule/-A/-D}" 2>/dev/null || true; done || true
      for chain in $("$tool" -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ {print $2}'); do
        "$tool" -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$tool" -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ {print $2}'); do
        "$tool" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
}

# The kubelet's pod cgroups (kubepods) in every v1 controller, deepest first.
remove_pod_cgroups() {
  local controller
  for controller in /sys/fs/cgroup/*/; do
    [ -d "$controller/kubepods" ] || continue
    find "$controller/kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

# What the node left machine-wide; runs after every process of the cluster has stopped.
node_down() {
  [ -d "$dir/node" ] || return 0
  local address=$1 bridge=$2
  stop_containers
  local pid
  pid=$(cat "$dir/run/containerd.pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait_gone "$pid"; fi
  # Shims outlive containerd; theirs name its socket.
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $dir/node/containerd.sock" 2>/dev/null || true
  if [ -x "${bin:-}/kube-proxy" ]; then "$bin/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  remove_kube_chains
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep '^cni-' || true); do
    grep -qx "$ns" "$dir/node/netns.before" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
  # Mounts under the node's directory (volumes, rootfs, shm), deepest first.
  awk -v root="$dir/node/" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r mount; do umount -l "$mount" 2>/dev/null || true; done || true
  remove_pod_cgroups
  if [ -f "$dir/node/sysctls.saved" ]; then
    while IFS= read -r setting; do sysctl -qw "$setting" 2>/dev/null || true; done <"$dir/node/sysctls.saved"
    rm -f "$dir/node/sysctls.saved"
  fi
  [ "$(cat "$node_lock" 2>/dev/null)" = "$dir" ] && rm -f "$node_lock"
  return 0
}
