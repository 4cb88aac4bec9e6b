#!/usr/bin/env bash
# Sets up this machine (Debian packages) and runs an rkube cluster from this checkout.
# Extra arguments go to `rkube server`.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> installing dependencies"
./scripts/install-deps.sh

echo "==> building rkube (release)"
cargo build --release --locked -p rkube

# The apiserver (issue M1 2/9) is not built yet, so there is no `rkube server` to start: show
# what the binary offers instead. Replace this with `exec ./target/release/rkube server "$@"`.
echo "==> rkube is built; \`rkube server\` arrives with the apiserver. Available now:"
./target/release/rkube version
./target/release/rkube --help
