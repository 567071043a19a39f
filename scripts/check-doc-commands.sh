#!/usr/bin/env bash
# Runs the documentation's commands that take under a minute, as the pages print them, and fails when one is no
# longer on its page or exits non-zero: the pages and this list cannot drift apart unnoticed. Commands that train
# for minutes, the study and the benchmarks are left to their own pages' timings. A short training run stands in
# for the tour's 10000-iteration one, so that the tour's `sample` and `eval` have a run to read.
#
# usage: scripts/check-doc-commands.sh        (from a checkout with OpenCL installed: scripts/install-opencl.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
swift build -c release --product steplab > /dev/null
B="$root/.build/release"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# check PAGE COMMAND [FOLDER]: COMMAND must appear verbatim on PAGE; then it runs in FOLDER (default: the scratch
# folder) with $B set.
check() {
    local page=$1 command=$2 folder=${3:-$work} started
    if ! grep -qF -- "$command" "$root/$page"; then
        echo "check-doc-commands: not on $page any more: $command"
        failures=$((failures + 1))
        return
    fi
    started=$(date +%s)
    if (cd "$folder" && B="$B" bash -c "$command" > "$work/out.log" 2>&1); then
        echo "ok   ($(( $(date +%s) - started )) s) $page: $command"
    else
        echo "FAIL $page: $command"
        tail -5 "$work/out.log"
        failures=$((failures + 1))
    fi
}

"$B/steplab" train --method mct --segments 4 --data checkerboard --out "$work/run" --iterations 300 > /dev/null
check README.md '$B/steplab sample --run run --count 4000 --out samples.csv --plot samples.png'
check README.md '$B/steplab eval --samples samples.csv --reference checkerboard'
check docs/methods.md '$B/steplab eval --samples samples.csv --reference checkerboard'
# swift run finds the package from the checkout, not from the scratch folder.
check docs/multi-device.md 'swift run steplab devices' "$root"
check docs/multi-device.md 'swift run steplab devices --json' "$root"
check docs/benchmarks.md 'swift run -c release bench profile --by-size' "$root"

[ "$failures" -eq 0 ] || { echo "check-doc-commands: $failures failed"; exit 1; }
echo "check-doc-commands: every command passed"
