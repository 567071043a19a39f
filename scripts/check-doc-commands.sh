#!/usr/bin/env bash
# Runs the documentation's commands that take under a minute, as the pages print them, and fails when one is no
# longer on its page or exits non-zero: the pages and this list cannot drift apart unnoticed. Commands that train
# for minutes, the study and the benchmarks are left to their own pages' timings. Short training runs stand in for
# the pages' minutes-long ones, so that their `sample` and `eval` have a run to read.
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
# The PyTorch twin reads the same noise (its page runs it from the checkout: bench/ is linked into the scratch folder).
ln -s "$root/bench" "$work/bench"
check docs/file-formats.md "python3 -c \"import numpy as np; np.savetxt('noise.csv', np.random.default_rng(0).standard_normal((1000, 2)), delimiter=',')\""
check docs/file-formats.md '$B/steplab sample --run run --count 1000 --noise noise.csv --steps 4 --out steplab.csv'
if python3 -c "import torch, safetensors" 2> /dev/null; then
    check docs/file-formats.md 'python3 bench/pytorch/steplab_sample.py run --noise noise.csv --steps 4 --out torch.csv'
else
    echo "skip (no torch or safetensors for python3): python3 bench/pytorch/steplab_sample.py"
fi
# Images from an array: the page's array, a short stand-in for its 2000-iteration run, then its sample and eval.
check docs/methods.md "python3 -c \"import numpy as np; y, x = np.mgrid[:16, :16]; c = np.random.default_rng(0).uniform(4, 12, (2000, 2, 1, 1)); np.save('discs.npy', ((x - c[:, 0])**2 + (y - c[:, 1])**2 < 12).astype(np.float32))\""
"$B/steplab" train --method diffusion --data "$work/discs.npy" --out "$work/discs" --iterations 20 > /dev/null
check docs/methods.md '$B/steplab sample --run discs --count 256 --out discs-samples.npy --plot discs.png'
check docs/methods.md '$B/steplab eval --samples discs-samples.npy --reference discs.npy'
# swift run finds the package from the checkout, not from the scratch folder.
check docs/multi-device.md 'swift run steplab devices' "$root"
check docs/multi-device.md 'swift run steplab devices --json' "$root"
check docs/benchmarks.md 'swift run -c release bench profile --by-size' "$root"

[ "$failures" -eq 0 ] || { echo "check-doc-commands: $failures failed"; exit 1; }
echo "check-doc-commands: every command passed"
