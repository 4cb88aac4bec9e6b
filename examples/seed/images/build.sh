#!/usr/bin/env bash
# Builds the seed example's images, `mysql` (a real MariaDB server) and `myweb` (a busybox
# httpd CGI that stores and reads rows through the `mariadb` client), without any registry:
#
#   1. a Debian bookworm root filesystem (debootstrap --variant=minbase from deb.debian.org)
#      with mariadb-server and mariadb-client installed, cached;
#   2. one uncompressed layer: that rootfs plus the entrypoints, the CGI and the host's static
#      busybox (both images share it, so containerd stores and unpacks it once);
#   3. one docker-archive holding both images (`mysql:latest`, `myweb:latest`), importable with
#      `rkube images import FILE` or by dropping it in a node's `<data-dir>/agent/images/`.
#
# Everything is cached under $SEED_CACHE (default /var/cache/rkube/seed-images), keyed by a
# hash of the inputs: a second run prints the cached archive's path in well under a second.
#
# Usage: build.sh [-o FILE]   (copies the archive to FILE too; the last line printed is the
#                              archive's path either way)
# Needs root, debootstrap (scripts/install-deps.sh installs it), tar, sha256sum, /bin/busybox.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${SEED_CACHE:-/var/cache/rkube/seed-images}
suite=bookworm
mirror=${SEED_MIRROR:-http://deb.debian.org/debian}
packages=(mariadb-server mariadb-client)
busybox=/bin/busybox
out=""

log() { echo "seed-images: $*" >&2; }
die() {
    echo "seed-images: error: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
    -o | --output)
        [ $# -ge 2 ] || die "$1 needs a file name"
        out=$2
        shift 2
        ;;
    -h | --help)
        sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument $1 (usage: build.sh [-o FILE])" ;;
    esac
done

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot need it); try: sudo $0"
command -v debootstrap >/dev/null ||
    die "debootstrap is not installed; run scripts/install-deps.sh (or apt-get install debootstrap)"
[ -x "$busybox" ] || die "$busybox is missing; run scripts/install-deps.sh (busybox-static)"
for tool in tar sha256sum chroot unshare flock; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
mkdir -p "$cache" || die "cannot create the cache directory $cache (set SEED_CACHE)"

# One build at a time per cache (tests and run.sh may start together).
exec 9>"$cache/.lock"
if ! flock -n 9; then
    log "another build holds $cache/.lock; waiting for it"
    flock 9
fi

hash_of() { sha256sum | cut -c1-16; }
base_key=$(printf '%s\n' "$suite" "$mirror" "${packages[@]}" "base-v1" | hash_of)
image_key=$( (
    echo "$base_key"
    cat "$0" "$here"/files/*
    sha256sum <"$busybox"
) | hash_of)
archive="$cache/seed-images-$image_key.tar"

copy_out() {
    if [ -n "$out" ]; then
        mkdir -p "$(dirname "$out")"
        cp --reflink=auto "$archive" "$out.partial" && mv "$out.partial" "$out"
        log "copied to $out"
    fi
}

if [ -f "$archive" ]; then
    log "cached: $archive ($(du -m "$archive" | cut -f1) MB; mysql:latest, myweb:latest)"
    copy_out
    echo "$archive"
    exit 0
fi

started=$SECONDS

# 1. The root filesystem with MariaDB (the slow part: ~1 min debootstrap, ~1 min apt).
rootfs="$cache/rootfs-$base_key"
if [ ! -f "$rootfs.done" ]; then
    # (--one-file-system: never into anything an interrupted earlier build left mounted.)
    rm -rf --one-file-system "$rootfs" "$rootfs.partial"
    log "[1/3] debootstrap --variant=minbase $suite from $mirror (about a minute)…"
    # In a private mount namespace, like the step below: what debootstrap mounts in the
    # target (/proc, /sys) goes away with it, even when it is interrupted.
    if ! unshare --mount --propagation private \
        debootstrap --variant=minbase "$suite" "$rootfs.partial" "$mirror" \
        >"$cache/debootstrap.log" 2>&1; then
        tail -n 20 "$cache/debootstrap.log" >&2
        die "debootstrap failed (log: $cache/debootstrap.log); is $mirror reachable? set SEED_MIRROR to another Debian mirror"
    fi
    log "[1/3] installing ${packages[*]} in the rootfs (about a minute)…"
    cp /etc/resolv.conf "$rootfs.partial/etc/resolv.conf"
    # Package scripts must not start daemons here.
    printf '#!/bin/sh\nexit 101\n' >"$rootfs.partial/usr/sbin/policy-rc.d"
    chmod 755 "$rootfs.partial/usr/sbin/policy-rc.d"
    # A private mount namespace: /proc goes away with the process, nothing is left mounted.
    if ! unshare --mount --propagation private bash -c '
        root=$1; shift
        mount -t proc proc "$root/proc" &&
        DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends "$@"
    ' bash "$rootfs.partial" "${packages[@]}" >"$cache/apt.log" 2>&1; then
        tail -n 20 "$cache/apt.log" >&2
        die "installing ${packages[*]} failed (log: $cache/apt.log)"
    fi
    # Trim what a container never uses, and host-specific files the runtime provides.
    rm -f "$rootfs.partial/usr/sbin/policy-rc.d"
    rm -rf "$rootfs.partial"/var/lib/apt/lists/* "$rootfs.partial"/var/cache/apt/*.bin \
        "$rootfs.partial"/var/cache/apt/archives/*.deb "$rootfs.partial"/usr/share/doc/* \
        "$rootfs.partial"/usr/share/man/* "$rootfs.partial"/usr/share/info/* \
        "$rootfs.partial"/var/lib/mysql/* "$rootfs.partial"/var/log/*.log
    : >"$rootfs.partial/etc/resolv.conf"
    : >"$rootfs.partial/etc/machine-id"
    mv "$rootfs.partial" "$rootfs"
    touch "$rootfs.done"
    log "[1/3] rootfs ready in $((SECONDS - started)) s ($(du -sm "$rootfs" | cut -f1) MB)"
else
    log "[1/3] rootfs cached: $rootfs"
fi

# 2. The layer: the rootfs plus the seed's own files (appended, owned by root).
work="$cache/work-$image_key"
rm -rf "$work"
mkdir -p "$work/add/usr/local/bin" "$work/add/www/cgi-bin" "$work/image"
install -m 755 "$here/files/seed-mysql" "$work/add/usr/local/bin/seed-mysql"
install -m 755 "$here/files/seed-myweb" "$work/add/usr/local/bin/seed-myweb"
install -m 755 "$busybox" "$work/add/usr/local/bin/busybox"
install -m 755 "$here/files/index.cgi" "$work/add/www/cgi-bin/index.cgi"
log "[2/3] writing the layer…"
layer="$work/layer.tar"
# Left out: mount points' contents, translations, and MariaDB's offline table tools (~5 MB
# each) that a server container never runs; a smaller layer imports faster on every node.
tar --numeric-owner --sort=name -C "$rootfs" -cf "$layer" \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' \
    --exclude='./tmp/*' --exclude='./usr/share/locale/*' \
    --exclude='./usr/bin/aria_*' --exclude='./usr/bin/myisam*' \
    --exclude='./usr/bin/mariadb-binlog' --exclude='./usr/bin/mariadb-slap' \
    --exclude='./usr/bin/mariadb-import' --exclude='./usr/bin/mariadb-show' \
    --exclude='./usr/bin/mariadb-conv' --exclude='./usr/bin/resolve_stack_dump' \
    --exclude='./usr/bin/innochecksum' .
tar --numeric-owner --owner=0 --group=0 --sort=name -C "$work/add" -rf "$layer" \
    ./usr/local/bin/seed-mysql ./usr/local/bin/seed-myweb ./usr/local/bin/busybox ./www
layer_hex=$(sha256sum "$layer" | cut -d' ' -f1)
log "[2/3] layer sha256:${layer_hex:0:12} ($(du -m "$layer" | cut -f1) MB)"

# 3. The docker-archive: one config per image, both on the same layer.
case "$(uname -m)" in
x86_64) arch=amd64 ;;
aarch64) arch=arm64 ;;
*) arch=$(uname -m) ;;
esac
mkdir -p "$work/image/$layer_hex"
mv "$layer" "$work/image/$layer_hex/layer.tar"
# config NAME ENV_JSON CMD_JSON PORT → prints the config file name.
config() {
    local file
    printf '{"architecture":"%s","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Env":%s,"Cmd":%s,"ExposedPorts":{"%s/tcp":{}},"WorkingDir":"/","Labels":{"org.opencontainers.image.title":"%s","org.opencontainers.image.description":"rkube seed example image"}},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"2024-01-01T00:00:00Z","created_by":"examples/seed/images/build.sh"}]}' \
        "$arch" "$2" "$3" "$4" "$1" "$layer_hex" >"$work/config.json"
    file="$(sha256sum "$work/config.json" | cut -d' ' -f1).json"
    mv "$work/config.json" "$work/image/$file"
    echo "$file"
}
path_env='"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"'
mysql_config=$(config mysql "[$path_env]" '["/usr/local/bin/seed-mysql"]' 3306)
myweb_config=$(config myweb "[$path_env]" '["/usr/local/bin/seed-myweb"]' 8080)
printf '[{"Config":"%s","RepoTags":["mysql:latest"],"Layers":["%s/layer.tar"]},{"Config":"%s","RepoTags":["myweb:latest"],"Layers":["%s/layer.tar"]}]' \
    "$mysql_config" "$layer_hex" "$myweb_config" "$layer_hex" >"$work/image/manifest.json"
log "[3/3] writing the archive…"
tar --numeric-owner --owner=0 --group=0 --sort=name -C "$work/image" -cf "$archive.partial" .
mv "$archive.partial" "$archive"
rm -rf "$work"
# Older archives of other inputs are not needed any more (the rootfs cache stays).
find "$cache" -maxdepth 1 -name 'seed-images-*.tar' ! -name "$(basename "$archive")" -delete

log "built $archive in $((SECONDS - started)) s ($(du -m "$archive" | cut -f1) MB; mysql:latest, myweb:latest)"
log "next: rkube images import $archive   (or copy it into each node's <data-dir>/agent/images/)"
copy_out
echo "$archive"
