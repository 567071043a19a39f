#!/usr/bin/env bash
# Scores one diffusion-teacher recipe on a 2-D set the way bench/results/README.md's teacher table does: trains the
# study's teacher (resmlp 128x3, batch 256, EMA 0.995, lr 2e-3, 100-step warm-up then cosine, 4500 iterations) with
# the extra options given, samples 16384 points with 64 DDIM steps from two noise draws (--seed 0 and 1) and scores
# each against two reference draws (steplab eval --seed 20, 21). Prints the training time, the mean SWD, the mean
# floor and their ratio. With STUDY_NOISE=1 it also samples from the study's own two noise draws
# (scripts/study_noise.py).
#
# usage: scripts/teacher-recipe.sh NAME [steplab train options]    (DATA=checkerboard by default; OUT=bench-out/recipes)
set -euo pipefail
B=${B:-.build/release}
data=${DATA:-checkerboard}
root=${OUT:-bench-out/recipes}
name=$1
shift
run=$root/$name
mkdir -p "$root"
rm -rf "$run"
start=$(date +%s.%N)
"$B/steplab" train --method diffusion --data "$data" --width 128 --blocks 3 --batch 256 --ema 0.995 --lr-schedule cosine \
    --warmup 100 --iterations 4500 "$@" --out "$run" > "$run.log"
seconds=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")

# score LABEL: mean SWD and floor over two noise draws x two reference draws; LABEL cli draws the noise from
# --seed 0 and 1, study-noise reads the study's two draws.
score() {
    local label=$1 total=0 floor=0 n r line noise
    for n in 0 1; do
        if [ "$label" = cli ]; then noise=(--seed $n); else noise=(--noise "$root/study-noise-$n.csv"); fi
        "$B/steplab" sample --run "$run" --count 16384 "${noise[@]}" --out "$run-$label$n.csv" > /dev/null
        for r in 20 21; do
            line=$("$B/steplab" eval --samples "$run-$label$n.csv" --reference "$data" --seed $r | grep "sliced W2")
            total=$(python3 -c "print($total + $(echo "$line" | awk '{print $3}'))")
            floor=$(python3 -c "print($floor + $(echo "$line" | awk '{print $4}'))")
        done
    done
    python3 -c "print(f'$name ($label): train $seconds s, SWD {$total / 4:.4f}, floor {$floor / 4:.4f}, ratio {$total / $floor:.2f}')"
}
score cli
if [ "${STUDY_NOISE:-0}" = 1 ]; then
    for n in 0 1; do python3 scripts/study_noise.py $n 16384 2 "$root/study-noise-$n.csv" > /dev/null; done
    score study-noise
fi
