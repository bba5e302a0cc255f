#!/usr/bin/env bash
# Provision one machine of dockyard's Vagrant cluster (see vagrant/README.md):
#
#   provision.sh control   the control plane: `dockyard server` as the systemd unit dockyard-server,
#                          a join token, the admin kubeconfig for the vagrant user, kubectl
#   provision.sh worker    a node: Docker, the offline images, `dockyard agent` as dockyard-agent
#
# Runs as root and is idempotent: running it again (`vagrant provision`) installs the synced
# checkout again, rewrites what changed and restarts the services; running containers and the
# cluster's state survive (a restarted agent adopts its containers).
#
# How the join command reaches the workers: the Debian boxes sync /vagrant with rsync, one way
# (host to guest), so a file the control VM writes there never reaches the workers. The control
# node therefore serves the join command over the private network (dockyard-join-share, plain
# HTTP, for 24 hours) under a path holding a secret that the Vagrantfile generates on the host and
# hands to every VM; a worker fetches it from there. Set DOCKYARD_JOIN_FILE to read the join
# command from a file instead (on real machines, see vagrant/README.md).
#
# Settings (environment; the Vagrantfile sets them):
#   DOCKYARD_CONTROL_IP     the control node's address (192.168.56.10)
#   DOCKYARD_NODE_IP        this machine's private-network address (worker: the Node's InternalIP)
#   DOCKYARD_NODE_NAME      the Node's name (default: the short host name)
#   DOCKYARD_JOIN_SECRET    path secret of the join share; empty: no share (control), DOCKYARD_JOIN_FILE (worker)
#   DOCKYARD_JOIN_FILE      worker: read the `dockyard agent …` join command from this file
#   DOCKYARD_SOURCE_DIR     the dockyard checkout to install (/vagrant)
#   DOCKYARD_KUBECTL_VERSION  control: kubectl release to download (v1.32.4); "none" skips it
#   DOCKYARD_ADMIN_USER     control: the login user who gets ~/.kube/config and ~/join-command (vagrant)
#
# The functions are small and most are pure (they print what to write), so that
# tests/unit/test_vagrant.py can source this file and call them without a VM.

set -euo pipefail

CONTROL_IP="${DOCKYARD_CONTROL_IP:-192.168.56.10}"
NODE_IP="${DOCKYARD_NODE_IP:-}"
NODE_NAME="${DOCKYARD_NODE_NAME:-$(hostname -s)}"
JOIN_SECRET="${DOCKYARD_JOIN_SECRET:-}"
JOIN_FILE="${DOCKYARD_JOIN_FILE:-}"
SOURCE_DIR="${DOCKYARD_SOURCE_DIR:-/vagrant}"
KUBECTL_VERSION="${DOCKYARD_KUBECTL_VERSION:-v1.32.4}"

API_PORT=6443
SHARE_PORT=8477
PREFIX=/opt/dockyard
SRC="$PREFIX/src"
VENV="$PREFIX/venv"
DOCKYARD="$VENV/bin/dockyard"
SERVER_STATE=/var/lib/dockyard/server
AGENT_STATE=/var/lib/dockyard/agent
SHARE_DIR=/var/lib/dockyard-share
ETC=/etc/dockyard
UNIT_DIR=/etc/systemd/system
ADMIN_USER="${DOCKYARD_ADMIN_USER:-vagrant}"

log() { printf '==> dockyard %s: %s\n' "${ROLE:-provision}" "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

usage() {
    echo "usage: $0 control|worker   (as root; settings in DOCKYARD_* variables, see the top of this file)" >&2
}

# -- pure helpers: validation, parsing and the files to write ---------------------------------

is_ipv4() {
    local IFS=. part
    local -a parts
    [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
    read -r -a parts <<<"$1"
    for part in "${parts[@]}"; do
        ((10#$part <= 255)) || return 1
    done
}

is_node_name() {
    # a DNS-1123 subdomain, as the API server checks it
    [[ ${#1} -le 253 && "$1" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ ]]
}

server_url() { echo "https://$1:$API_PORT"; }

# The value after FLAG in a `dockyard agent --server URL --token T --ca-cert-hash H` command (stdin).
join_field() {
    local flag="$1" line
    local -a words
    line="$(grep -m1 -E '^[[:space:]]*dockyard agent ' || true)"
    read -r -a words <<<"$line"
    local i
    for ((i = 0; i + 1 < ${#words[@]}; i++)); do
        if [[ "${words[i]}" == "$flag" ]]; then
            echo "${words[i + 1]}"
            return 0
        fi
    done
    return 1
}

# Check a join command (stdin) and print its three fields, one a line: server, token, CA hash.
# Whatever the file says ends up in a systemd unit, so every field must look exactly right.
parse_join_command() {
    local text server token hash
    text="$(cat)"
    server="$(join_field --server <<<"$text")" || die "the join command has no --server"
    token="$(join_field --token <<<"$text")" || die "the join command has no --token"
    hash="$(join_field --ca-cert-hash <<<"$text")" || die "the join command has no --ca-cert-hash"
    [[ "$server" =~ ^https://[A-Za-z0-9.-]+:[0-9]{1,5}$ ]] || die "the join command's --server is not https://HOST:PORT: $server"
    [[ "$token" =~ ^dyj_[A-Za-z0-9_-]{20,}$ ]] || die "the join command's --token is not a join token (dyj_…)"
    [[ "$hash" =~ ^sha256:[0-9a-f]{64}$ ]] || die "the join command's --ca-cert-hash is not sha256:<64 hex digits>: $hash"
    printf '%s\n%s\n%s\n' "$server" "$token" "$hash"
}

render_server_unit() {
    local advertise="$1"
    cat <<EOF
# Written by vagrant/provision.sh: the dockyard control plane.
[Unit]
Description=dockyard control plane (API server, scheduler, controllers)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=$DOCKYARD server --state-dir $SERVER_STATE --cluster-name vagrant --listen 0.0.0.0:$API_PORT --advertise $advertise
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
EOF
}

render_agent_unit() {
    local server="$1" ca_hash="$2" node_name="$3" node_ip="$4"
    cat <<EOF
# Written by vagrant/provision.sh: this machine's dockyard node agent (needs root: iptables,
# routes to the other nodes' pods, cluster DNS on port 53).
[Unit]
Description=dockyard node agent ($node_name)
After=docker.service network-online.target
Wants=network-online.target
Requires=docker.service

[Service]
ExecStart=$DOCKYARD agent --server $server --token-file $ETC/join-token --ca-cert-hash $ca_hash --node-name $node_name --node-ip $node_ip --state-dir $AGENT_STATE
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
EOF
}

render_share_unit() {
    local bind_ip="$1"
    cat <<EOF
# Written by vagrant/provision.sh: hands the join command to the workers for 24 hours
# (\`vagrant provision control\` makes a new token and starts it again).
[Unit]
Description=dockyard join command for the Vagrant workers
After=network-online.target
Wants=network-online.target

[Service]
User=nobody
ExecStart=/usr/bin/python3 -m http.server --bind $bind_ip --directory $SHARE_DIR $SHARE_PORT
RuntimeMaxSec=86400
EOF
}

# The admin kubeconfig (stdin) with its server address replaced: the server's own kubeconfig
# points at 127.0.0.1, which is useless on another machine; the certificate covers --advertise.
external_kubeconfig() {
    local url="$1"
    sed -E "s#^([[:space:]]*server:[[:space:]]*)https://[^[:space:]]+[[:space:]]*\$#\\1$url#"
}

# -- effects ------------------------------------------------------------------------------------

# write_if_changed PATH MODE: write stdin to PATH (atomically, with MODE) unless it already holds
# exactly that; returns 0 when it wrote, 1 when nothing changed.
write_if_changed() {
    local path="$1" mode="$2" tmp
    mkdir -p "$(dirname "$path")"
    tmp="$(mktemp "$path.XXXXXX")"
    cat >"$tmp"
    if [[ -f "$path" ]] && cmp -s "$tmp" "$path"; then
        rm -f "$tmp"
        return 1
    fi
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$path"
    return 0
}

install_packages() {
    local role="$1"
    local -a packages=(python3 python3-venv git rsync curl ca-certificates iproute2)
    if [[ "$role" == worker ]]; then
        # Docker from Debian, and what `make images` needs (python -m agent.images --install-deps
        # would install the last four itself; one apt run is quicker)
        packages+=(docker.io iptables busybox-static debootstrap gcc libc6-dev)
    fi
    log "installing ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}

install_dockyard() {
    [[ -f "$SOURCE_DIR/pyproject.toml" ]] || die "no dockyard checkout at $SOURCE_DIR (pyproject.toml missing); is the synced folder there? (vagrant rsync)"
    log "installing dockyard from $SOURCE_DIR into $VENV"
    mkdir -p "$SRC"
    # A private copy: pip builds in the source tree, and /vagrant may be the host's checkout.
    # --delete-excluded also clears the last run's build/: setuptools would ship stale modules from it.
    rsync -a --delete --delete-excluded --exclude .git/ --exclude .venv/ --exclude .vagrant/ --exclude build/ \
        --exclude '*.egg-info/' --exclude __pycache__/ --exclude .pytest_cache/ --exclude .hypothesis/ \
        "$SOURCE_DIR/" "$SRC/"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    # pip always reinstalls a project given as a directory, so the venv gets this checkout's code
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$SRC"
    ln -sfn "$DOCKYARD" /usr/local/bin/dockyard
}

# enable and (re)start a unit; a provisioning run restarts it, so new code takes effect
restart_unit() {
    systemctl daemon-reload
    systemctl enable --quiet "$1"
    systemctl restart "$1"
}

wait_for_api() {
    local url="$1" tries="${2:-60}" i
    for ((i = 0; i < tries; i++)); do
        curl -fsSk --max-time 2 "$url/readyz" >/dev/null 2>&1 && return 0
        sleep 1
    done
    journalctl -u dockyard-server -n 30 --no-pager >&2 || true
    die "the API server did not answer at $url/readyz within ${tries}s (journalctl -u dockyard-server)"
}

# A fresh join token (24 hours) on every provisioning run, written to ADMIN_USER's home and,
# with a secret, shared with the workers. Tokens of earlier runs simply expire.
make_join_command() {
    local command home errors
    errors="$(mktemp)"
    # (its stderr only says "Run this on the machine that should join")
    if ! command="$("$DOCKYARD" token create --state-dir "$SERVER_STATE" --ttl 24h \
        --server "$(server_url "$CONTROL_IP")" 2>"$errors")"; then
        cat "$errors" >&2
        die "dockyard token create failed"
    fi
    rm -f "$errors"
    parse_join_command <<<"$command" >/dev/null
    install -d -m 0700 "$ETC"
    write_if_changed "$ETC/join-command" 0600 <<<"$command" || true
    if home="$(getent passwd "$ADMIN_USER" | cut -d: -f6)" && [[ -n "$home" && -d "$home" ]]; then
        install -m 0600 -o "$ADMIN_USER" -g "$(id -gn "$ADMIN_USER")" "$ETC/join-command" "$home/join-command"
    fi
    if [[ -n "$JOIN_SECRET" ]]; then
        [[ "$JOIN_SECRET" =~ ^[A-Za-z0-9]{16,}$ ]] || die "DOCKYARD_JOIN_SECRET must be 16 or more letters and digits"
        # Only the secret's directory holds the file; the empty index.html stops directory listings.
        rm -rf "$SHARE_DIR"
        install -d -m 0755 "$SHARE_DIR" "$SHARE_DIR/$JOIN_SECRET"
        : >"$SHARE_DIR/index.html"
        install -m 0644 "$ETC/join-command" "$SHARE_DIR/$JOIN_SECRET/join-command"
        render_share_unit "$CONTROL_IP" | write_if_changed "$UNIT_DIR/dockyard-join-share.service" 0644 || true
        systemctl daemon-reload
        systemctl restart dockyard-join-share
        log "join command shared at http://$CONTROL_IP:$SHARE_PORT/<secret>/join-command for 24 hours"
    fi
}

install_kubeconfig() {
    local user="$1" home
    home="$(getent passwd "$user" | cut -d: -f6)" || return 0
    [[ -n "$home" && -d "$home" ]] || return 0
    install -d -m 0700 -o "$user" -g "$(id -gn "$user")" "$home/.kube"
    external_kubeconfig "$(server_url "$CONTROL_IP")" <"$SERVER_STATE/kubeconfig" |
        write_if_changed "$home/.kube/config" 0600 || true
    chown "$user:$(id -gn "$user")" "$home/.kube/config"
}

install_kubectl() {
    local version="$1" arch url tmp
    [[ "$version" == none ]] && return 0
    if ! [[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
        echo "warning: DOCKYARD_KUBECTL_VERSION '$version' is not like v1.32.4 (or none); no kubectl installed" >&2
        return 0
    fi
    if command -v kubectl >/dev/null && [[ "$(kubectl version --client 2>/dev/null)" == *"Client Version: $version"* ]]; then
        return 0
    fi
    arch="$(dpkg --print-architecture)"
    url="https://dl.k8s.io/release/$version/bin/linux/$arch/kubectl"
    tmp="$(mktemp -d)"
    log "downloading kubectl $version"
    if curl -fsSL --retry 3 -o "$tmp/kubectl" "$url" && curl -fsSL --retry 3 -o "$tmp/kubectl.sha256" "$url.sha256" &&
        echo "$(cat "$tmp/kubectl.sha256")  $tmp/kubectl" | sha256sum --check --status; then
        install -m 0755 "$tmp/kubectl" /usr/local/bin/kubectl
    else
        echo "warning: could not download kubectl $version from $url; use \`dockyard get …\` on this node, or kubectl on your host (vagrant/README.md)" >&2
    fi
    rm -rf "$tmp"
}

provision_control() {
    install_packages control
    install_dockyard
    render_server_unit "$CONTROL_IP" | write_if_changed "$UNIT_DIR/dockyard-server.service" 0644 || true
    restart_unit dockyard-server
    wait_for_api "$(server_url 127.0.0.1)"
    make_join_command
    install_kubeconfig root
    install_kubeconfig "$ADMIN_USER"
    write_if_changed /etc/profile.d/dockyard.sh 0644 <<'EOF' || true
# Written by vagrant/provision.sh. kubectl reads ~/.kube/config by itself; the dockyard CLI reads $KUBECONFIG.
export KUBECONFIG="$HOME/.kube/config"
EOF
    install_kubectl "$KUBECTL_VERSION"
    log "control plane up at $(server_url "$CONTROL_IP"); try: vagrant ssh control -c 'kubectl get nodes -o wide'"
}

# The join command: from DOCKYARD_JOIN_FILE, else from the control node's share (waiting for it:
# providers that bring the machines up in parallel may get here before the control node has).
fetch_join_command() {
    if [[ -n "$JOIN_FILE" ]]; then
        cat "$JOIN_FILE"
        return
    fi
    [[ -n "$JOIN_SECRET" ]] || die "no DOCKYARD_JOIN_SECRET (the Vagrantfile sets it) and no DOCKYARD_JOIN_FILE"
    [[ "$JOIN_SECRET" =~ ^[A-Za-z0-9]{16,}$ ]] || die "DOCKYARD_JOIN_SECRET must be 16 or more letters and digits"
    local url="http://$CONTROL_IP:$SHARE_PORT/$JOIN_SECRET/join-command" body code i not_found=0
    local advice="\`vagrant provision control\` makes a new join command and shares it for 24 hours"
    body="$(mktemp)"
    for ((i = 0; i < 180; i++)); do
        code="$(curl -sS --max-time 5 -o "$body" -w '%{http_code}' "$url" 2>/dev/null || true)"
        if [[ "$code" == 200 ]]; then
            cat "$body"
            rm -f "$body"
            return 0
        fi
        # 404 for a minute: the share runs but not under our secret (the control node was
        # provisioned from another .vagrant directory), unlike a control node still booting.
        if [[ "$code" == 404 ]] && ((++not_found >= 12)); then
            rm -f "$body"
            die "the control node shares no join command for this Vagrant project's secret; $advice"
        fi
        if ((i % 12 == 0)); then
            log "waiting for the control node to share the join command ($CONTROL_IP:$SHARE_PORT)" >&2
        fi
        sleep 5
    done
    rm -f "$body"
    die "no join command at $CONTROL_IP:$SHARE_PORT after 15 minutes: is the control node up? $advice"
}

wait_for_agent() {
    local since="$1" tries="${2:-180}" i
    for ((i = 0; i < tries; i++)); do
        # (grep without -q reads everything: an early exit could fail the pipe with SIGPIPE)
        if journalctl -u dockyard-agent --since "@$since" -o cat --no-pager 2>/dev/null |
            grep -F "node $NODE_NAME ready" >/dev/null; then
            return 0
        fi
        sleep 1
    done
    journalctl -u dockyard-agent -n 30 --no-pager >&2 || true
    die "the agent did not report node $NODE_NAME ready within ${tries}s (journalctl -u dockyard-agent)"
}

provision_worker() {
    is_ipv4 "$NODE_IP" || die "DOCKYARD_NODE_IP must be this machine's private-network IPv4 address (got '${NODE_IP}')"
    is_node_name "$NODE_NAME" || die "DOCKYARD_NODE_NAME '$NODE_NAME' is not a valid node name (lowercase DNS-1123)"
    install_packages worker
    systemctl enable --quiet --now docker
    if id "$ADMIN_USER" >/dev/null 2>&1; then
        usermod -aG docker "$ADMIN_USER"
    fi
    install_dockyard
    log "building the offline images (about a minute the first time)"
    DOCKYARD_IMAGE_CACHE=/var/cache/dockyard/images "$VENV/bin/python" -m agent.images --install-deps

    local -a join
    mapfile -t join < <(fetch_join_command | parse_join_command)
    [[ ${#join[@]} -eq 3 ]] || die "could not read the join command"
    local server="${join[0]}" token="${join[1]}" ca_hash="${join[2]}"
    install -d -m 0700 "$ETC" "$AGENT_STATE"
    # An agent that joined another cluster (the control VM was made anew) holds a node token and
    # containers of that cluster; it cannot be moved over in place.
    if [[ -f "$ETC/ca-cert-hash" && "$(cat "$ETC/ca-cert-hash")" != "$ca_hash" && -f "$AGENT_STATE/node-token" ]]; then
        die "this worker joined a different cluster (its CA changed: was the control VM recreated?). Recreate the worker: vagrant destroy -f $NODE_NAME && vagrant up $NODE_NAME"
    fi
    write_if_changed "$ETC/join-token" 0600 <<<"$token" || true
    write_if_changed "$ETC/ca-cert-hash" 0644 <<<"$ca_hash" || true
    render_agent_unit "$server" "$ca_hash" "$NODE_NAME" "$NODE_IP" |
        write_if_changed "$UNIT_DIR/dockyard-agent.service" 0644 || true
    local started
    started="$(date +%s)"
    restart_unit dockyard-agent
    wait_for_agent "$started"
    log "node $NODE_NAME ($NODE_IP) joined $server"
}

main() {
    if [[ $# -ne 1 || ( "$1" != control && "$1" != worker ) ]]; then
        usage
        exit 2
    fi
    ROLE="$1"
    [[ $EUID -eq 0 ]] || die "run as root (Vagrant's shell provisioner does)"
    is_ipv4 "$CONTROL_IP" || die "DOCKYARD_CONTROL_IP must be an IPv4 address (got '$CONTROL_IP')"
    if [[ "$ROLE" == control ]]; then
        provision_control
    else
        provision_worker
    fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
