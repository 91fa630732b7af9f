#!/usr/bin/env bash
# A real Kubernetes control plane on this machine, for the tests and for trying lameduck by hand:
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler at the release go.mod pins,
# and, given the built tools, a real node (node.sh): containerd, the kubelet and kube-proxy.
#
#   cluster.sh up DIR [--tools BIN_DIR [--no-node]] [--owner PID]
#       start; DIR gets the kubeconfigs, logs and the audit log. --tools: the directory with
#       prestop, readyz-toggle, drain-wait and demo-agent, made into the images lameduck:dev and
#       lameduck-demo-agent:dev; the node starts unless --no-node
#   cluster.sh down DIR
#       stop everything `up` started in DIR, and remove what the node left on the machine
#
# Every server listens on one address of the cluster's own, 10.210.N.254 (on lo), and pods get
# 10.210.N.0/25 behind the bridge ldbrN, so that no traffic leaves the machine. Control planes
# never share a port; only one node can run at a time (node.sh says why). With --owner, the
# cluster goes down when that process ends, whatever way it ends.
# Needs root (addresses, bridges, mounts, iptables), openssl, curl, g++ and python3.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=node.sh
. "$here/node.sh"
node_name=lameduck-node
image_tag=${LAMEDUCK_IMAGE_TAG:-dev}
service_range=10.96.0.0/24
service_ip=10.96.0.1 # the `kubernetes` Service: the first address of the range

# go from PATH, else where the machine has it.
case ":$PATH:" in *:/usr/local/go/bin:*) ;; *) PATH=$PATH:/usr/local/go/bin ;; esac

log() { printf '\033[1mcluster:\033[0m %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# --- certificates --------------------------------------------------------------------------------

# sign NAME SUBJECT [SANS]: a key and a certificate from the cluster's CA.
sign() {
  local name=$1 subject=$2 sans=${3:-}
  openssl genrsa -out "$pki/$name.key" 2048 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr" 2>/dev/null
  local ext="$pki/$name.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$sans" ]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=$sans"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } >"$ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$ext"
}

make_pki() {
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 30 \
    -subj "/CN=lameduck-cluster-ca" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  sign apiserver "/CN=kube-apiserver" \
    "IP:$address,IP:127.0.0.1,IP:$service_ip,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
  sign admin "/O=system:masters/CN=lameduck-admin"
  sign controller-manager "/CN=system:kube-controller-manager"
  sign scheduler "/CN=system:kube-scheduler"
  sign node "/O=system:nodes/CN=system:node:$node_name"
  sign kube-proxy "/CN=system:kube-proxy"
  # The API server's identity towards the kubelet (kubectl logs, exec), and the kubelet's own.
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  sign kubelet-serving "/CN=$node_name" "IP:$address"
  sign controller-manager-serving "/CN=kube-controller-manager" "IP:$address"
  sign scheduler-serving "/CN=kube-scheduler" "IP:$address"
  # Service-account tokens are signed with this key and checked with its public half.
  openssl genrsa -out "$pki/service-account.key" 2048 2>/dev/null
  openssl rsa -in "$pki/service-account.key" -pubout -out "$pki/service-account.pub" 2>/dev/null
}

# kubeconfig NAME: DIR/NAME.kubeconfig with the client certificate pki/NAME.
kubeconfig() {
  local name=$1
  cat >"$dir/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: lameduck
    cluster:
      server: $api_url
      certificate-authority: $pki/ca.crt
users:
  - name: $name
    user:
      client-certificate: $pki/$name.crt
      client-key: $pki/$name.key
contexts:
  - name: lameduck
    context: {cluster: lameduck, user: $name, namespace: default}
current-context: lameduck
EOF
}

# --- processes -----------------------------------------------------------------------------------

# start NAME COMMAND...: in a session of its own, so that a ^C in the caller's terminal does not
# reach it; its pid goes to DIR/run/NAME.pid, its output to DIR/logs/NAME.log.
start() {
  local name=$1; shift
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/run/$name.pid"
  echo "$name" >>"$dir/run/order"
}

# wait_healthy NAME URL [CURL ARGS...]: until URL answers 200, the process still running.
wait_healthy() {
  local name=$1 url=$2; shift 2
  local pid
  pid=$(cat "$dir/run/$name.pid")
  for _ in $(seq 1 1200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$dir/logs/$name.log" >&2
      die "$name exited while starting (its log: $dir/logs/$name.log)"
    fi
    if curl -fsS --max-time 2 "$@" "$url" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  tail -n 30 "$dir/logs/$name.log" >&2
  die "$name is not healthy at $url after 120 s (its log: $dir/logs/$name.log)"
}

# The cluster's number N: the first whose address 10.210.N.254 no other cluster holds.
pick_network() {
  local n
  for n in $(seq 1 250); do
    if ! ip -o addr show dev lo | grep -q " 10\.210\.$n\.254/"; then
      echo "$n"
      return 0
    fi
  done
  die "every 10.210.N.254 address on lo is taken: too many clusters are up"
}

up() {
  local tools="" node=1 owner=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --tools) tools=$(realpath "$2"); shift 2 ;;
      --no-node) node=0; shift ;;
      --owner) owner=$2; shift 2 ;;
      *) die "unknown flag for up: $1" ;;
    esac
  done
  [ "$(id -u)" -eq 0 ] || die "needs root: it adds an address to lo, network namespaces and mounts"
  if [ -f "$dir/run/order" ]; then die "a cluster is already up in $dir; run: $0 down $dir"; fi
  # From here on, a failed start stops what it started.
  trap 'if [ $? -ne 0 ]; then log "up failed; stopping what it started"; down; fi' EXIT
  local bin
  bin=$("$here/build.sh")
  mkdir -p "$dir/run" "$dir/logs"
  local n
  n=$(pick_network)
  address=10.210.$n.254
  pod_network=10.210.$n.0/25
  gateway=10.210.$n.1
  bridge=ldbr$n
  echo "$bin" >"$dir/run/bin"
  ip addr add "$address/32" dev lo
  echo "$address" >"$dir/run/address"
  pki=$dir/pki
  api_url=https://$address:6443
  make_pki
  for name in admin controller-manager scheduler node kube-proxy; do kubeconfig "$name"; done
  cat >"$dir/audit-policy.yaml" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
# Every request, once it is answered (and a watch once it starts), with who sent it.
omitStages: [RequestReceived]
rules:
  - level: Metadata
EOF
  # Bearer tokens for clients that speak HTTP themselves: system:kube-proxy (bound by the default
  # system:node-proxier role, which may not read pods: the fidelity test's 403), and the tests'
  # own requests as the admin.
  openssl rand -hex 24 >"$dir/kube-proxy.token"
  openssl rand -hex 24 >"$dir/admin.token"
  {
    echo "$(cat "$dir/kube-proxy.token"),system:kube-proxy,system:kube-proxy"
    echo "$(cat "$dir/admin.token"),lameduck-admin,lameduck-admin,system:masters"
  } >"$pki/tokens.csv"

  log "starting etcd, kube-apiserver, kube-controller-manager and kube-scheduler on $address"
  start etcd "$bin/etcd" --name lameduck --data-dir "$dir/etcd" \
    --listen-client-urls "http://$address:2379" --advertise-client-urls "http://$address:2379" \
    --listen-peer-urls "http://$address:2380" --initial-advertise-peer-urls "http://$address:2380" \
    --initial-cluster "lameduck=http://$address:2380" --unsafe-no-fsync --log-level warn
  wait_healthy etcd "http://$address:2379/health"

  start kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://$address:2379" \
    --bind-address "$address" --advertise-address "$address" --secure-port 6443 \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --token-auth-file "$pki/tokens.csv" \
    --service-cluster-ip-range "$service_range" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/service-account.pub" \
    --service-account-signing-key-file "$pki/service-account.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=false --profiling=false \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP \
    --audit-policy-file "$dir/audit-policy.yaml" --audit-log-path "$dir/audit.log" \
    --audit-log-format json --audit-log-mode blocking
  wait_healthy kube-apiserver "$api_url/readyz" --cacert "$pki/ca.crt"

  start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$dir/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
    --bind-address "$address" --secure-port 10257 \
    --tls-cert-file "$pki/controller-manager-serving.crt" --tls-private-key-file "$pki/controller-manager-serving.key" \
    --service-account-private-key-file "$pki/service-account.key" --root-ca-file "$pki/ca.crt" \
    --use-service-account-credentials --controllers '*' --leader-elect=false
  start kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig "$dir/scheduler.kubeconfig" \
    --authorization-kubeconfig "$dir/scheduler.kubeconfig" \
    --bind-address "$address" --secure-port 10259 \
    --tls-cert-file "$pki/scheduler-serving.crt" --tls-private-key-file "$pki/scheduler-serving.key" \
    --leader-elect=false
  wait_healthy kube-controller-manager "https://$address:10257/healthz" --cacert "$pki/ca.crt"
  wait_healthy kube-scheduler "https://$address:10259/readyz" --cacert "$pki/ca.crt"
  # The controller manager makes each namespace's default ServiceAccount a moment after it
  # starts; until then a pod that names none is refused.
  KUBECONFIG=$dir/admin.kubeconfig "$bin/kubectl" wait --for=create serviceaccount/default -n default \
    --timeout=60s >/dev/null || die "no default ServiceAccount after 60 s (log: $dir/logs/kube-controller-manager.log)"

  cat >"$dir/env" <<EOF
KUBECONFIG=$dir/admin.kubeconfig
KUBECTL=$bin/kubectl
API_URL=$api_url
API_HOST=$address
API_PORT=6443
CA_FILE=$pki/ca.crt
NODE_NAME=$node_name
POD_NETWORK=$pod_network
SERVICE_RANGE=$service_range
NODE_LOG=$dir/logs/kubelet.log
CONTAINERD_SOCKET=$dir/node/containerd.sock
KUBE_PROXY_TOKEN_FILE=$dir/kube-proxy.token
ADMIN_TOKEN_FILE=$dir/admin.token
AUDIT_LOG=$dir/audit.log
ETCD_URL=http://$address:2379
EOF

  if [ -n "$tools" ] && [ "$node" -eq 1 ]; then
    node_up "$tools"
  fi

  if [ -n "$owner" ]; then
    # tail --pid returns when the owner ends; the cluster then goes with it.
    setsid bash -c 'tail --pid="$1" -f /dev/null; exec "$2" down "$3"' _ "$owner" "$0" "$dir" \
      >"$dir/logs/owner-watch.log" 2>&1 </dev/null &
  fi
  log "up. Use it with:  export KUBECONFIG=$dir/admin.kubeconfig; $bin/kubectl get nodes"
  log "(or any kubectl within one minor version of the servers')"
  log "stop it with:     $0 down $dir"
}

down() {
  [ -f "$dir/run/order" ] || { log "nothing is up in $dir"; return 0; }
  local address n bin
  address=$(cat "$dir/run/address" 2>/dev/null || true)
  n=${address#10.210.}; n=${n%.254}
  bin=$(cat "$dir/run/bin" 2>/dev/null || true)
  # The node first, while the API still answers: kube-proxy and the kubelet, then its
  # containers and containerd, then what it left on the machine.
  stop_named kube-proxy
  stop_named kubelet
  node_down "$address" "ldbr$n"
  local name names
  names=$(tac "$dir/run/order" | grep -vxE 'kube-proxy|kubelet|containerd' || true)
  for name in $names; do
    pid=$(cat "$dir/run/$name.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  # The API server drains its requests for up to a minute on SIGTERM; with the node and the
  # controllers gone there is nothing left worth waiting for.
  for name in $names; do
    pid=$(cat "$dir/run/$name.pid" 2>/dev/null || true)
    [ -n "$pid" ] && wait_gone "$pid" 30
  done
  [ -n "$address" ] && ip addr del "$address/32" dev lo 2>/dev/null || true
  rm -f "$dir/run/order"
  log "down ($dir)"
}

# stop_named NAME: SIGTERM to a process `start` began, and wait for it.
stop_named() {
  local pid
  pid=$(cat "$dir/run/$1.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid"
}

# wait_gone PID [TENTHS]: up to TENTHS tenths of a second (150) for a clean exit, then SIGKILL.
wait_gone() {
  local pid=$1 tenths=${2:-150}
  for _ in $(seq 1 "$tenths"); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2; }
verb=${1:-}
[ $# -ge 2 ] || usage
dir=$(mkdir -p "$2" && cd "$2" && pwd)
shift 2
case "$verb" in
  up) up "$@" ;;
  down) down ;;
  *) usage ;;
esac
