#!/usr/bin/env bash
# Runs every benchmark of the workspace, one after the other (release, `cargo bench -p <crate>
# --bench <bench>`), and regenerates BENCHMARKS.md from their outputs: a header (date, commit,
# machine), a summary table of every headline figure beside its reference or goal, then one
# section per benchmark with its full printed output, then a pointer to the hand-written
# history and analyses (docs/benchmarks-history.md).
#
# Usage: scripts/bench.sh [--quick] [--only NAME[,NAME…]] [--no-write] [--report-only]
#                         [--output FILE] [--list]
#   --quick         each benchmark's quick/small mode (for trying the script out; the figures
#                   are not comparable with the goals): per benchmark, see `--list` or BENCHES below.
#   --only NAMES    run only these benchmarks (comma-separated names from --list); the others'
#                   last outputs in target/bench/ are reused so the document stays whole.
#   --no-write      print the generated document on stdout instead of writing it.
#   --report-only   run nothing: regenerate the document from target/bench/ alone.
#   --output FILE   write FILE instead of BENCHMARKS.md.
#   --list          print the benchmark names, commands and quick modes, then exit.
#
# Per benchmark NAME, target/bench/ holds NAME.md (its stdout, verbatim), NAME.log (its stderr,
# the build's included) and NAME.meta (when, at which commit, mode, elapsed time, exit status,
# load average before it). Progress goes to stderr with the elapsed time of every step.
# A benchmark that fails (or cannot run: root needed) is reported in its section with the last
# lines of its log; the others still run, and the script exits 1 at the end.
# RKUBE_BENCH_OUT overrides target/bench (e.g. to try the report on made-up outputs).
#
# BENCHMARKS.md is generated: write analyses (what the figures say, profiles, before/after)
# into docs/benchmarks-history.md, which the generated file links to section by section.
#
# The summary contract. Each benchmark prints, besides its own report on stdout, one line per
# headline figure:
#
#     SUMMARY | <what> | <figure> | <reference or goal>
#
# three fields separated by " | " (a field must not contain "|"), units inside the figure,
# "–" when there is no reference. <what> starts with the component ("store: ",
# "apiserver (etcd): ", …) and says the size it was measured at; <reference or goal> names
# a figure measured in the same run (raw SQLite, raw CRI, …) or a goal/floor quoted from the
# issue. Print them last, after a blank line (so they never continue a Markdown table of the
# report). This script collects them, in order, into the summary table (benchmark | what |
# figure | reference or goal) and leaves them out of the benchmark's section.
set -euo pipefail
cd "$(dirname "$0")/.."

# name | cargo package | bench target | needs root | quick mode (env assignments and/or
# `-- args`). The run order and the document's order: the stack from the bottom up.
BENCHES=(
  "store|rkube-store|store|no|-- --quick"
  "apiserver|rkube-apiserver|apiserver|no|-- --quick"
  "managed_fields|rkube-api|managed_fields|no|RKUBE_BENCH_ITERS=2000"
  "scheduler|rkube-scheduler|throughput|no|-- --quick"
  "workloads|rkube-controllers|workloads|no|RKUBE_BENCH_REPLICAS=100 RKUBE_BENCH_NODES=20 RKUBE_BENCH_COMPLETIONS=200"
  "pod_startup|rkube-kubelet|pod_startup|yes|-- --quick"
  "sim|rkube-sim|nodes|no|RKUBE_SIM_BENCH_NODES=500 RKUBE_SIM_BENCH_SECONDS=10 RKUBE_SIM_BENCH_PODS=500"
  "proxy|rkube-proxy|sync|yes|SERVICES=100"
  "dns|rkube-dns|lookup|no|DNS_BENCH_QUERIES=2000"
  "scale|rkube|scale|no|RKUBE_SCALE_NODES=200 RKUBE_SCALE_PODS=2000 RKUBE_SCALE_CHURN_SECS=5"
)
OUT_DIR=${RKUBE_BENCH_OUT:-target/bench}  # where the outputs are kept (override for tests)
LOG_TAIL=40

quick=no only="" write=yes run=yes output=BENCHMARKS.md
usage() { sed -n '/^# Usage:/,/^#   --list/p' "$0" | sed 's/^# \{0,1\}//' >&2; }
while (($#)); do
  case "$1" in
    --quick) quick=yes ;;
    --only) only="${2:?--only needs a name list}"; shift ;;
    --only=*) only="${1#--only=}" ;;
    --no-write) write=no ;;
    --report-only) run=no ;;
    --output) output="${2:?--output needs a file}"; shift ;;
    --output=*) output="${1#--output=}" ;;
    --list)
      for b in "${BENCHES[@]}"; do
        IFS='|' read -r name pkg bench root qmode <<<"$b"
        printf '%-15s cargo bench -p %s --bench %s%s; quick: %s\n' "$name" "$pkg" "$bench" \
          "$([[ $root == yes ]] && echo ' (root)')" "$qmode"
      done
      exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown argument: $1" >&2; usage; exit 2 ;;
  esac
  shift
done

names=()
for b in "${BENCHES[@]}"; do names+=("${b%%|*}"); done
if [[ -n $only ]]; then
  IFS=',' read -r -a wanted <<<"$only"
  for w in "${wanted[@]}"; do
    [[ " ${names[*]} " == *" $w "* ]] || { echo "bench.sh: no benchmark named '$w' (see --list)" >&2; exit 2; }
  done
fi
selected() { [[ -z $only || ",$only," == *",$1,"* ]]; }

t0=$SECONDS
progress() { printf '[bench %4ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
commit() {
  local c
  c=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && c="$c + uncommitted changes"
  echo "$c"
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

mkdir -p "$OUT_DIR"
load_before_run=$(loadavg)
failed=0

# Runs one benchmark: build (timed apart), then the run with stdout to NAME.md, stderr to
# NAME.log; records NAME.meta.
run_one() {
  local name=$1 pkg=$2 bench=$3 root=$4 qmode=$5
  local md="$OUT_DIR/$name.md" log="$OUT_DIR/$name.log" meta="$OUT_DIR/$name.meta"
  local envs=() args=() mode=full status=0 start load
  if [[ $quick == yes ]]; then
    mode="quick ($qmode)"
    local in_args=no w
    for w in $qmode; do
      if [[ $in_args == yes ]]; then args+=("$w")
      elif [[ $w == -- ]]; then in_args=yes
      else envs+=("$w"); fi
    done
  fi
  load=$(loadavg)
  start=$SECONDS
  : >"$md"
  {
    echo "# $(date -u '+%F %T UTC'): cargo bench -p $pkg --bench $bench ${args[*]:+-- ${args[*]}} ${envs[*]:+(env ${envs[*]})}"
  } >"$log"
  if [[ $root == yes && $(id -u) != 0 ]]; then
    echo "needs root (run scripts/bench.sh as root)" >>"$log"
    status=77
  else
    progress "$name: building (cargo bench -p $pkg --bench $bench --no-run)"
    if ! cargo bench -p "$pkg" --bench "$bench" --no-run >>"$log" 2>&1; then
      status=101
    else
      progress "$name: built in $((SECONDS - start)) s; running${envs[*]:+ with ${envs[*]}}${args[*]:+ -- ${args[*]}}"
      local rstart=$SECONDS
      # `env` keeps the quick mode's variables to this one command; its report is shown on
      # stderr as it comes (stdout may carry the document, see --no-write).
      local cmd=(env "${envs[@]}" cargo bench -p "$pkg" --bench "$bench")
      ((${#args[@]} == 0)) || cmd+=(-- "${args[@]}")
      "${cmd[@]}" 2>>"$log" | tee "$md" >&2 || status=$?
      progress "$name: ran in $((SECONDS - rstart)) s"
    fi
  fi
  local elapsed=$((SECONDS - start))
  cat >"$meta" <<EOF
date=$(date -u '+%F %H:%M UTC')
commit=$(commit)
mode=$mode
elapsed=$elapsed
status=$status
load=$load
EOF
  if ((status == 0)); then
    progress "$name: ok, $elapsed s in all ($(grep -c '^SUMMARY |' "$md" || true) summary lines)"
  else
    progress "$name: FAILED (status $status) after $elapsed s; see $log"
    failed=1
  fi
}

if [[ $run == yes ]]; then
  progress "machine load average before the run: $load_before_run"
  for b in "${BENCHES[@]}"; do
    IFS='|' read -r name pkg bench root qmode <<<"$b"
    selected "$name" || continue
    run_one "$name" "$pkg" "$bench" "$root" "$qmode"
  done
fi

# --- The document.

meta_get() { sed -n "s/^$2=//p" "$OUT_DIR/$1.meta" 2>/dev/null; }

machine() {
  local cpu mem os
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
  mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
  os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")
  echo "$(nproc) CPUs ($cpu), $mem memory, ${os:+$os, }kernel $(uname -r)"
}

# A GitHub heading anchor: lower case, punctuation dropped, spaces to hyphens.
anchor() { tr '[:upper:]' '[:lower:]' <<<"$1" | sed 's/[^a-z0-9 _-]//g; s/ /-/g'; }

# A benchmark's report without its SUMMARY lines and the blank lines they leave at the end.
report() { grep -v '^SUMMARY |' "$1" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' || true; }

generate() {
  local name pkg bench root qmode status mode md
  echo "# Benchmarks"
  echo
  echo "Generated by \`scripts/bench.sh\` — do not edit by hand: rerun it (\`--only NAME\` to"
  echo "refresh some sections). Analyses and the figures of earlier sessions are in"
  echo "[docs/benchmarks-history.md](docs/benchmarks-history.md)."
  echo
  echo "- Generated: $(date -u '+%F %H:%M UTC') at commit $(commit)"
  echo "- Machine: $(machine)"
  if [[ $run == yes ]]; then
    echo "- Load average (1, 5, 15 min) before the run: $load_before_run"
  else
    echo "- Regenerated from the outputs in \`$OUT_DIR/\` (\`--report-only\`): no benchmark ran"
  fi
  echo
  echo "Every benchmark prints its own report (below, verbatim) and one line per headline figure,"
  echo "\`SUMMARY | <what> | <figure> | <reference or goal>\`, collected here. A reference is measured"
  echo "in the same run on the same machine (raw SQLite, raw etcd, raw CRI, raw \`nft\`, hickory);"
  echo "a goal or floor is quoted from the issue. On a shared 2-core machine figures move ±15–50%"
  echo "between runs: compare within a row, and rerun before reading much into a change."
  if grep -qs '^mode=quick' "$OUT_DIR"/*.meta; then
    echo
    echo "**Benchmarks marked (quick) ran in their quick mode (\`scripts/bench.sh --quick\`): smaller"
    echo "sizes, so their figures do not compare with the goals, which are stated for full size.**"
  fi
  echo
  echo "## Summary"
  echo
  echo "| benchmark | what | figure | reference / goal |"
  echo "|---|---|---|---|"
  for b in "${BENCHES[@]}"; do
    IFS='|' read -r name pkg bench root qmode <<<"$b"
    md="$OUT_DIR/$name.md"
    status=$(meta_get "$name" status)
    mode=$(meta_get "$name" mode)
    local label="[$name](#$(anchor "$name"))"
    [[ $mode == quick* ]] && label="$label (quick)"
    if [[ -z $status ]]; then
      echo "| $label | not run yet | – | – |"
      continue
    fi
    if [[ -f $md ]]; then
      grep '^SUMMARY |' "$md" | sed "s/^SUMMARY |/| $label |/; s/[[:space:]]*\$/ |/" || true
    fi
    if [[ $status != 0 ]]; then
      echo "| $label | **run failed** (status $status) | – | – |"
    fi
  done
  for b in "${BENCHES[@]}"; do
    IFS='|' read -r name pkg bench root qmode <<<"$b"
    md="$OUT_DIR/$name.md"
    echo
    echo "## $name"
    echo
    echo "\`cargo bench -p $pkg --bench $bench\`$([[ $root == yes ]] && echo ' (needs root)'); quick mode: \`$qmode\`."
    status=$(meta_get "$name" status)
    if [[ -z $status ]]; then
      echo
      echo "Not run yet."
      continue
    fi
    echo "Run $(meta_get "$name" date) at commit $(meta_get "$name" commit), mode $(meta_get "$name" mode),"
    echo "$(meta_get "$name" elapsed) s including the build, load average before it $(meta_get "$name" load)."
    if [[ $status != 0 ]]; then
      echo
      if [[ $status == 77 ]]; then
        echo "**Not run: it needs root.** Last lines of its log:"
      else
        echo "**Failed** (exit status $status). Last lines of its log (\`$OUT_DIR/$name.log\`):"
      fi
      echo
      echo '```text'
      tail -n "$LOG_TAIL" "$OUT_DIR/$name.log"
      echo '```'
      [[ -s $md ]] || continue
      echo
      echo "What it printed before failing:"
    fi
    echo
    # Markdown reports (they contain a table) go in verbatim; plain text in a code block.
    if grep -q '^|[-|: ]*|$' "$md"; then
      report "$md"
    else
      echo '```text'
      report "$md"
      echo '```'
    fi
  done
  echo
  echo "## History and analyses"
  echo
  echo "Hand-written, per session: what each figure says, where the time goes (perf), what changed"
  echo "and the figures before and after, in [docs/benchmarks-history.md](docs/benchmarks-history.md):"
  echo
  local h
  if [[ -f docs/benchmarks-history.md ]]; then
    grep '^## ' docs/benchmarks-history.md | while IFS= read -r h; do
      h=${h#\#\# }
      echo "- [$h](docs/benchmarks-history.md#$(anchor "$h"))"
    done
  fi
}

# The first generated BENCHMARKS.md replaces the hand-written one, which becomes the history.
if [[ $write == yes && $output == BENCHMARKS.md && ! -f docs/benchmarks-history.md ]] &&
  ! grep -q '^Generated by `scripts/bench.sh`' BENCHMARKS.md 2>/dev/null; then
  mkdir -p docs
  mv BENCHMARKS.md docs/benchmarks-history.md
  progress "moved the hand-written BENCHMARKS.md to docs/benchmarks-history.md"
fi
doc=$(generate)
if [[ $write == yes ]]; then
  printf '%s\n' "$doc" >"$output"
  progress "wrote $output"
else
  printf '%s\n' "$doc"
fi
if ((failed)); then
  progress "some benchmarks failed (see their sections)"
  exit 1
fi
progress "done"
