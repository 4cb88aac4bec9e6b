#!/usr/bin/env python3
"""Checks that workspace crates depend on each other only downward (shared/ARCHITECTURE.md §3).

api and store are leaves; apiserver sits on api + store; `component` (what every apiserver-client
component shares) sits on api; component crates depend on api and component only (never on
apiserver, store or each other); testkit is for tests only; the rkube binary may use
anything. Exits non-zero and names each broken edge.
"""
import json
import os
import subprocess
import sys

LEAVES = {"api", "store"}
COMPONENTS = {"scheduler", "controllers", "kubelet", "proxy", "dns", "ingress", "dashboard", "metrics", "sim"}
ALLOWED = {
    "api": set(),
    "store": set(),
    "apiserver": {"api", "store"},
    "component": {"api"},
    "rkube": None,  # the binary composes everything
    "testkit": None,  # dev-only helpers
}

meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--no-deps", "--format-version", "1"]))
dir_of = {p["name"]: os.path.basename(os.path.dirname(p["manifest_path"])) for p in meta["packages"]}

bad = []
for pkg in meta["packages"]:
    me = dir_of[pkg["name"]]
    allowed = ALLOWED.get(me, {"api", "component"} if me in COMPONENTS else set())
    for dep in pkg["dependencies"]:
        other = dir_of.get(dep["name"])
        if other is None:
            continue  # not a workspace crate
        if other == "testkit" and dep.get("kind") != "dev":
            bad.append(f"{me} -> testkit (testkit is a dev-dependency only)")
        elif dep.get("kind") == "dev":
            continue
        elif allowed is not None and other not in allowed and other != "testkit":
            bad.append(f"{me} -> {other}")

if bad:
    print("dependency direction broken (shared/ARCHITECTURE.md §3):", file=sys.stderr)
    for b in bad:
        print("  " + b, file=sys.stderr)
    print("move the shared piece down into `api` or its own small crate", file=sys.stderr)
    sys.exit(1)
print(f"check-deps: {len(meta['packages'])} crates, dependency direction ok")
