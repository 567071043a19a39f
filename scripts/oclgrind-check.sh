#!/usr/bin/env bash
# Runs the kernel tests on tiny, awkward shapes on Oclgrind's simulated GPU (Debian's `oclgrind`), with its checks of
# every work-item's memory accesses and of data races in local and global memory, and fails on any report. Oclgrind
# shows itself as a GPU with OpenCL C 1.2, so the engine takes its GPU paths there (the tiled matmul and the tiled
# implicit convolutions, col2im, the work-group kernels); the suites that force a variant (MatmulTuning) run the CPU
# kernels too.
# Usage: scripts/oclgrind-check.sh   (after `swift build --build-tests`; it builds them when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v oclgrind > /dev/null; then
    echo "oclgrind-check: oclgrind is not installed (apt-get install oclgrind)" >&2
    exit 1
fi
binary="$(swift build --show-bin-path)/StepLabPackageTests.xctest"
[ -x "$binary" ] || swift build --build-tests
# Suites whose shapes are small enough for the simulator (each kernel file is exercised by at least one):
# elementwise, activations, attention (and its tangent), GroupNorm (backward, tangent, per-token FiLM), time embeddings,
# schedules and diffusion batches, reductions and losses, AdamW and the EMA, Philox draws, EDM ops and samplers, the
# ECT, MeanFlow, sCM and shortcut batches, im2col/col2im, the tiled implicit convolutions and channel copies, patches,
# the CPU variant's narrow convolution (local memory),
# and whole tiny U-Nets and DiTs forward, backward and JVP through both matmul variants.
filter='ElementwiseTests|ActivationTests|AttentionTests|GroupNormTests|TimeEmbeddingTests|ScheduleOpsTests|ReductionAndLossTests'
filter+='|CrossEntropyTests|OptimizerTests|RandomTests|PhiloxTests|EDMOpsTests|EDMSamplerTests|ECTTests/pairs'
filter+='|MeanFlowTests/(batch|loss)|SCMTests/(batch|loss)|ShortcutTests/(batch|selfConsistency)|DiTTests|UNetTests'
filter+='|TangentTests/(groupNorm|timeEmbedding|attention)|ConvolutionTests/(im2col|channelSlices|weightGradientsSplit|narrowConvolutions)|TiledConvolutionTests'
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$(date +%s)
oclgrind --data-races --log "$log" "$binary" --testing-library swift-testing --filter "$filter"
if [ -s "$log" ]; then
    echo "oclgrind-check: Oclgrind reported errors:" >&2
    cat "$log" >&2
    exit 1
fi
echo "oclgrind-check: no reports ($(( $(date +%s) - start )) s)"
