#!/usr/bin/env bash
# Installs the official Python Kubernetes client (PyPI `kubernetes`) into a virtualenv under
# target/, for the tests that drive rkube with it. Idempotent: a second run checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

version=37.0.2
venv=target/python-client
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import kubernetes, sys; sys.exit(kubernetes.__version__ != '$version')" 2>/dev/null; then
    echo "install-python-client: kubernetes $version present ($venv)"
    exit 0
fi
python3 -m venv "$venv" || {
    echo "install-python-client: python3 -m venv failed; install python3-venv (apt-get install python3-venv)" >&2
    exit 1
}
"$venv/bin/pip" install -q --disable-pip-version-check "kubernetes==$version"
echo "install-python-client: kubernetes $version installed into $venv"
