#!/usr/bin/env bash
# `cluster.sh down` leaves the machine as `up` found it: a node is started, runs a pod of the
# chart's toolkit image (so that there are containers, mounts, a veth, iptables rules and pod
# cgroups to remove), and is stopped; then nothing of it may be left.
#
#   test_down.sh TOOLS_DIR
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$1
dir=$(mktemp -d /tmp/lameduck-down-XXXXXX)
trap 'bash "$here/cluster.sh" down "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

# What the machine has that a node could leave behind.
snapshot() {
  {
    echo "# iptables"; iptables-save 2>/dev/null | grep -E 'KUBE-|CNI-' | sort || true
    echo "# ip6tables"; ip6tables-save 2>/dev/null | grep -E 'KUBE-|CNI-' | sort || true
    echo "# links"; ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
    echo "# addresses on lo"; ip -o addr show dev lo | awk '{print $4}' | sort
    echo "# routes"; ip route show | sort
    echo "# netns"; ip netns list | awk '{print $1}' | sort
    echo "# mounts"; awk -v d="$dir" 'index($2, d) == 1 || $2 ~ /containerd|kubelet/ {print $2}' /proc/mounts | sort
    echo "# processes"; pgrep -a -f "$dir" | sed 's/^[0-9]* //' | sort || true
    echo "# cgroups"; ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null || true
  }
}

before=$(snapshot)
bash "$here/cluster.sh" up "$dir" --tools "$tools" >/dev/null 2>"$dir.up.log" || { cat "$dir.up.log" >&2; exit 1; }
rm -f "$dir.up.log"
. "$dir/env"
export KUBECONFIG
"$KUBECTL" run leftover --image=docker.io/library/lameduck:dev --image-pull-policy=IfNotPresent \
  --restart=Never -- serve --listen 0.0.0.0:7979 >/dev/null
"$KUBECTL" wait --for=condition=Ready pod/leftover --timeout=60s >/dev/null
during=$(snapshot)
if [ "$during" = "$before" ]; then
  echo "FAIL: the running node left no mark this test could see; it proves nothing" >&2
  exit 1
fi
bash "$here/cluster.sh" down "$dir" >/dev/null 2>&1
after=$(snapshot)
if [ "$after" != "$before" ]; then
  echo "FAIL: down left the machine changed:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi
echo "ok: up, a running pod, then down; the machine is as it was"
