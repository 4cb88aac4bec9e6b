#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Debian packages), checks the crate
# dependency direction, formatting and lints, then runs every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# A one-shot build gains nothing from incremental state, which is gigabytes on disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# The build needs several GiB; say how much there is, so a full disk is the first thing read.
disk() { df -h --output=avail,size,target . | sed 's/^/    /'; }

step "installing test dependencies"
disk
./scripts/install-deps.sh
./scripts/install-python-client.sh

step "checking crate dependency direction"
python3 scripts/check-deps.py

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (whole workspace)"
disk
cargo test --workspace --locked --no-run
disk
cargo test --workspace --locked
