#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Debian packages), checks the crate
# dependency direction, formatting and lints, then runs every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "installing test dependencies"
./scripts/install-deps.sh
./scripts/install-python-client.sh

step "checking crate dependency direction"
python3 scripts/check-deps.py

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (whole workspace)"
cargo test --workspace --locked
