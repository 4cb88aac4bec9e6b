#!/usr/bin/env bash
# Sets up this machine (Debian packages) and runs an rkube cluster from this checkout.
# Extra arguments go to `rkube server`.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> installing dependencies"
./scripts/install-deps.sh

echo "==> building rkube (release)"
cargo build --release --locked -p rkube

echo "==> starting rkube server (Ctrl-C stops it)"
exec ./target/release/rkube server "$@"
