#!/usr/bin/env bash
# The README's "Defaults" table: for each built-in 2-D set, diffusion at the default settings (64 DDIM steps)
# and MCT S = 4 initialised from it (4 steps), 20000 samples each, SWD as a multiple of the noise floor.
# Usage: scripts/defaults-quality.sh [OUT_DIR] [extra train options...]   (about 35 minutes on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-out/defaults-quality}; shift || true
swift build -c release --product steplab >/dev/null
B=.build/release/steplab
mkdir -p "$out"
ratio() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('%.2f' % (d['samples']['swd'] / d['noise_floor']['swd']))" "$1"; }
echo "| set | diffusion, 64 steps | MCT S = 4, 4 steps |"
echo "|---|---|---|"
for set in eight-gaussians two-moons checkerboard swiss-roll spirals; do
    rm -rf "$out/$set-diffusion" "$out/$set-mct"
    $B train --method diffusion --data "$set" --iterations 4000 --out "$out/$set-diffusion" "$@" > "$out/$set-diffusion.log"
    $B sample --run "$out/$set-diffusion" --steps 64 --count 20000 --out "$out/$set-diffusion.csv" --plot "$out/$set-diffusion.png" > /dev/null
    $B eval --samples "$out/$set-diffusion.csv" --reference "$set" --json > "$out/$set-diffusion.json"
    $B train --method mct --segments 4 --init "$out/$set-diffusion" --data "$set" --iterations 4000 --out "$out/$set-mct" "$@" > "$out/$set-mct.log"
    $B sample --run "$out/$set-mct" --steps 4 --count 20000 --out "$out/$set-mct.csv" --plot "$out/$set-mct.png" > /dev/null
    $B eval --samples "$out/$set-mct.csv" --reference "$set" --json > "$out/$set-mct.json"
    echo "| $set | $(ratio "$out/$set-diffusion.json") | $(ratio "$out/$set-mct.json") |"
done
