#!/usr/bin/env bash
# `make demo`: a 3-node cluster on this machine, the seed's echo-hostname Deployment behind a
# NodePort, and ten requests answered by pods on different nodes. The cluster keeps running.
#
# Needs only Docker and Python: `make demo` has made the virtualenv and built the offline images.
# Uses the `dockyard` CLI (the same tables kubectl prints), so kubectl is optional.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKYARD=${DOCKYARD:-.venv/bin/dockyard}
PYTHON=${PYTHON:-.venv/bin/python}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fetch() {  # curl if there is one; the virtualenv's Python otherwise
    curl -s --max-time 5 "$1" 2>/dev/null ||
        "$PYTHON" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"
}

step "dockyard up --nodes 3"
"$DOCKYARD" up --nodes 3
export KUBECONFIG=~/.dockyard/kubeconfig

step "the seed's echo-hostname Deployment and its NodePort Service"
"$DOCKYARD" apply -f examples/seed/hostname-deployment.yaml -f examples/seed/hostname-svc-nodeport.yaml
"$DOCKYARD" rollout status deployment/hostname-deployment --timeout=120s

step "dockyard get nodes,pods -o wide"
"$DOCKYARD" get nodes,pods -o wide

step "ten requests to the NodePort, each to the next node's address"
port=$("$DOCKYARD" get svc hostname-svc-nodeport -o json | "$PYTHON" -c \
    'import json, sys; print(json.load(sys.stdin)["spec"]["ports"][0]["nodePort"])')
mapfile -t nodes < <("$DOCKYARD" get nodes -o json | "$PYTHON" -c '
import json, sys
for node in json.load(sys.stdin)["items"]:
    address = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    print(node["metadata"]["name"], address)')
for i in $(seq 0 9); do
    read -r name address <<<"${nodes[$((i % ${#nodes[@]}))]}"
    answer=$(fetch "http://$address:$port/" | grep -o 'Hello, [^<]*' || echo "no answer (is dockyard running as root?)")
    printf '%-7s %-15s -> %s\n' "$name" "$address:$port" "$answer"
done

step "the cluster keeps running"
cat <<EOF
Use it with kubectl (or the same verbs of .venv/bin/dockyard):
  export KUBECONFIG=~/.dockyard/kubeconfig
  kubectl get pods -o wide
  kubectl scale deployment/hostname-deployment --replicas=5
Labs to try next: examples/*/README.md (start with examples/services).
Stop it:  .venv/bin/dockyard down --purge
EOF
