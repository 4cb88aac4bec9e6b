#!/usr/bin/env bash
# Installs, from Debian packages, what building, running and testing rkube needs. Idempotent:
# installs only what is missing, so a second run is quick and touches nothing.
#   protobuf-compiler  protoc, needed to build the CRI and etcd gRPC clients
#   libprotobuf-dev    the well-known .proto files protoc imports (google/protobuf/*.proto);
#                      only a Recommends of protobuf-compiler, which --no-install-recommends skips
#   etcd-server        a real etcd for the store's tests and benchmarks
#   etcd-client        etcdctl, to look inside a cluster's store by hand
#   containerd, runc   the container runtime the node agent drives through CRI
#   containernetworking-plugins  bridge, host-local, portmap, loopback for pod networking
#   busybox-static     the one binary the agent builds its pause and test images from
#   iptables, iproute2, conntrack  the kernel network tooling the node agent uses
#   nftables           nft: the proxy programs Services into the kernel through it
#   docker-registry    a local OCI registry the tests pull images from (no other is reachable)
#   apache2-utils      htpasswd -B: the bcrypt login file of the kubelet tests' authenticated registry
#   debootstrap        builds the seed example's MariaDB images (examples/seed/images/build.sh)
set -euo pipefail

packages=(protobuf-compiler libprotobuf-dev etcd-server etcd-client containerd runc containernetworking-plugins busybox-static iptables iproute2 conntrack nftables docker-registry apache2-utils debootstrap)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all present (${packages[*]})"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install: ${missing[*]} (run as root)" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
