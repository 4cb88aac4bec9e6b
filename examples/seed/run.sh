#!/usr/bin/env bash
# The seed walkthrough on a running rkube cluster, step by step with the real kubectl:
#   build the images (images/build.sh, cached) and import them into this node's runtime,
#   kubectl create -f mysql-rc.yaml / mysql-svc.yaml / myweb-rc.yaml / myweb-svc.yaml,
#   kubectl get rc,svc,pods, wait until the web app answers, then curl http://<node>:30001/.
#
# Usage: run.sh          deploy (objects that already exist are kept)
#        run.sh delete   remove the seed's RCs and Services
# Environment: KUBECONFIG (default /var/lib/rkube/kubeconfig.yaml), RKUBE (the rkube binary),
#   RKUBE_DATA_DIR (the node's data directory, default /var/lib/rkube), SEED_SKIP_IMPORT=1 when
#   the nodes already have the images (e.g. in <data-dir>/agent/images/), SEED_TIMEOUT (s, 300).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export KUBECONFIG=${KUBECONFIG:-/var/lib/rkube/kubeconfig.yaml}
timeout=${SEED_TIMEOUT:-300}

step() { printf '\n==> %s\n' "$*"; }
info() { echo "    $*"; }
die() {
    echo "run.sh: error: $*" >&2
    exit 1
}
# Shows a command as typed, then runs it.
run() {
    echo "\$ $*"
    "$@"
}

command -v kubectl >/dev/null || die "kubectl is not on PATH"
[ -r "$KUBECONFIG" ] || die "no kubeconfig at $KUBECONFIG; start the cluster (rkube server) or set KUBECONFIG"
kubectl version >/dev/null 2>&1 || die "the cluster in $KUBECONFIG does not answer (kubectl version failed)"

if [ "${1:-}" = delete ]; then
    run kubectl delete -f "$here/myweb-svc.yaml" -f "$here/myweb-rc.yaml" \
        -f "$here/mysql-svc.yaml" -f "$here/mysql-rc.yaml" --ignore-not-found
    exit 0
fi
[ $# -eq 0 ] || die "unknown argument $1 (usage: run.sh [delete])"

rkube=${RKUBE:-}
if [ -z "$rkube" ]; then
    if command -v rkube >/dev/null; then
        rkube=rkube
    else
        for b in "$here/../../target/release/rkube" "$here/../../target/debug/rkube"; do
            [ -x "$b" ] && rkube=$b && break
        done
    fi
fi

step "1. Images: build (cached) and import into this node's runtime"
archive=$("$here/images/build.sh" | tail -n 1)
if [ "${SEED_SKIP_IMPORT:-}" = 1 ]; then
    info "SEED_SKIP_IMPORT=1: not importing $archive"
elif [ -z "$rkube" ]; then
    die "no rkube binary (put it on PATH or set RKUBE) to import $archive"
else
    run "$rkube" images import "$archive"
    info "other nodes: copy $archive into their <data-dir>/agent/images/ (imported at agent start)"
fi

# kubectl create, keeping an object that exists from an earlier run. (Checked first: creating
# an existing NodePort Service fails on its port, "already allocated", before AlreadyExists.)
create() {
    local existing
    echo "\$ kubectl create -f $1"
    if existing=$(kubectl get -f "$here/$1" -o name 2>/dev/null); then
        echo "$existing already exists (kept)"
    else
        kubectl create -f "$here/$1" || die "kubectl create -f $1 failed"
    fi
}

# Waits until `n` pods with label app=$1 are Running, printing each change of their states.
wait_running() {
    local app=$1 n=$2 deadline=$((SECONDS + timeout)) last="" now
    while :; do
        # (A failed kubectl is retried, not fatal: the API may blink while pods start.)
        now=$(kubectl get pods -l "app=$app" --no-headers 2>/dev/null | awk '{print $1 " " $3}' | sort | tr '\n' ' ' || true)
        if [ "$now" != "$last" ]; then
            info "[${SECONDS}s] $app pods: ${now:-none yet}"
            last=$now
        fi
        [ "$(grep -o ' Running' <<<"$now" | wc -l)" -ge "$n" ] && return 0
        [ $SECONDS -lt $deadline ] || die "$app: $n pods not Running after ${timeout}s; see kubectl describe pods -l app=$app"
        sleep 2
    done
}

step "2. MySQL: a ReplicationController of 1 and its Service"
create mysql-rc.yaml
create mysql-svc.yaml
wait_running mysql 1

step "3. The web app: a ReplicationController of 2 and a NodePort Service on 30001"
create myweb-rc.yaml
create myweb-svc.yaml
wait_running myweb 2

step "4. What runs"
run kubectl get rc
run kubectl get svc
run kubectl get pods -o wide

node=$(kubectl get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}' || true)
[ -n "$node" ] || die "no node has an InternalIP address"
url="http://$node:30001/"
step "5. Waiting for $url to show data from MySQL (MariaDB initialises its datadir first)"
deadline=$((SECONDS + timeout))
until body=$(curl -fsS --max-time 5 "$url" 2>&1); do
    [ $SECONDS -lt $deadline ] || die "$url did not answer with data after ${timeout}s: $body"
    info "[${SECONDS}s] not yet: $(tail -n 1 <<<"$body")"
    sleep 3
done
info "NodePort 30001 is open on every node's address; this node: $url"
echo "\$ curl $url"
curl -sS "$url"
