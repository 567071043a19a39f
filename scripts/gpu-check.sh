#!/usr/bin/env bash
# GPU check for a lent GPU machine, in two halves:
#
#   scripts/gpu-check.sh build   here (needs Swift): release `steplab` and `bench` with the Swift runtime and
#                                Foundation linked in statically, stripped and gzipped, plus the OpenCL ICD
#                                loader, into gpu-kit/ (ignored by git, so it must be carried: carry ["gpu-kit"]).
#   scripts/gpu-check.sh run     on the GPU machine (no Swift, no internet), from the repo root: makes the NVIDIA
#                                OpenCL driver visible, then runs the device listing, the device check, the
#                                kernel benchmark and (when torch with CUDA is there) the PyTorch reference,
#                                each under its own time limit, logs and a summary into ${OUT:-./gpu-out}.
#
# The device machine only gets the git working tree plus up to 8 carried ignored paths (64 MiB in all), so the
# kit must be self-contained and small. See bench/RESULTS-GPU.md for the exact commands.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kit="$root/gpu-kit"

# Temporary folders (staging, unpacked binaries, the written .icd) go when the script ends, however it ends.
cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT

usage() { echo "usage: scripts/gpu-check.sh build|run   (build here with Swift, run on the GPU machine)" >&2; exit 2; }
die() { echo "gpu-check: error: $*" >&2; exit 1; }
# The dynamic linker's cache; ldconfig lives in /sbin, which a non-root PATH may lack.
ldcache() { { command -v ldconfig >/dev/null && ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null || true; }

# The libraries a kit binary may still load from the machine it runs on. Everything Swift (runtime, Foundation,
# ICU, dispatch) must be linked in, because the GPU machine has no Swift toolchain.
# steplab also links Open MPI (multi-machine training), whose libraries the kit carries (build) for a GPU machine
# without it: a single-process run never starts MPI, so they only need to load.
allowed_deps='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|lib(c|m|dl|pthread|rt|util|stdc\+\+|gcc_s|OpenCL|z)\.so\.[0-9.]+)$'
mpi_deps='^lib(mpi|open-rte|open-pal|hwloc|event_core-2\.1|event_pthreads-2\.1|udev)\.so\.[0-9.]+$'

# ---------------------------------------------------------------------------------------------------- build
build() {
    command -v swift >/dev/null || die "no swift here: 'build' runs on a machine with the Swift toolchain"
    # A scratch path of its own, so this release build never touches (or waits on) the repo's .build.
    local scratch=${GPU_CHECK_SCRATCH:-/tmp/gpu-check-build}
    local flags=(-c release --static-swift-stdlib --scratch-path "$scratch" --package-path "$root")
    local product
    for product in steplab bench; do
        echo "gpu-check: swift build ${flags[*]} --product $product" >&2
        swift build "${flags[@]}" --product "$product"
    done
    local bin
    bin=$(swift build "${flags[@]}" --show-bin-path)

    rm -rf "$kit"
    mkdir -p "$kit/lib"
    local stage
    stage=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-stage.XXXXXX")
    cleanup+=("$stage")
    for product in steplab bench; do
        cp "$bin/$product" "$stage/$product"
        # Symbols are a good part of the size and nothing on the GPU machine needs them.
        strip "$stage/$product"
    done

    # The GPU machine may have the NVIDIA driver but no ICD loader; ship the one we link against. Copy the real
    # file (not the symlink) under the name the binaries ask for.
    local loader=/usr/lib/x86_64-linux-gnu/libOpenCL.so.1
    [ -e "$loader" ] || loader=$(ldcache | awk '/libOpenCL\.so\.1 .*x86-64/ { print $NF; exit }')
    [ -n "$loader" ] && [ -e "$loader" ] || die "no libOpenCL.so.1 here: run scripts/install-opencl.sh first"
    cp "$(readlink -f "$loader")" "$kit/lib/libOpenCL.so.1"
    # libstdc++ stays dynamic and the binaries need this machine's version of it (GLIBCXX_3.4.30 with GCC 12):
    # keep a copy for a GPU machine whose own is older. Used only then, since the NVIDIA driver loads it too.
    local libstdcxx
    libstdcxx=$(ldcache | awk '/libstdc\+\+\.so\.6 .*x86-64/ { print $NF; exit }')
    if [ -n "$libstdcxx" ]; then
        mkdir -p "$kit/lib/compat"
        cp "$(readlink -f "$libstdcxx")" "$kit/lib/compat/libstdc++.so.6"
    fi

    # zlib (Fashion-MNIST's gzip files) stays dynamic too; nearly every system has it, and the copy here serves
    # one that does not.
    local zlib
    zlib=$(ldcache | awk '/libz\.so\.1 .*x86-64/ { print $NF; exit }')
    if [ -n "$zlib" ]; then
        mkdir -p "$kit/lib/zlib"
        cp "$(readlink -f "$zlib")" "$kit/lib/zlib/libz.so.1"
    fi

    # Open MPI's libraries, under their sonames.
    mkdir -p "$kit/lib/mpi"
    local name path
    while read -r name path; do
        grep -Eq "$mpi_deps" <<<"$name" && cp "$(readlink -f "$path")" "$kit/lib/mpi/$name"
    done < <(ldd "$stage/steplab" | awk '$2 == "=>" { print $1, $3 }')

    # Fail now, not on the GPU machine, if anything Swift is still linked dynamically.
    local deps extra
    for product in steplab bench; do
        deps=$(ldd "$stage/$product" | awk '{ print $1 }' | sed 's|.*/||')
        extra=$(grep -Ev "$allowed_deps" <<<"$deps" | grep -Ev "$mpi_deps" || true)
        [ -z "$extra" ] || die "$product still needs non-system libraries: $(tr '\n' ' ' <<<"$extra")"
    done

    # The newest glibc / libstdc++ symbol versions the binaries need: the GPU machine's must be at least these.
    local glibc glibcxx
    glibc=$(objdump -T "$stage/steplab" "$stage/bench" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
    glibcxx=$(objdump -T "$stage/steplab" "$stage/bench" | grep -o 'GLIBCXX_[0-9.]*' | sed 's/GLIBCXX_//' | sort -uV | tail -1)
    {
        echo "commit $(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
        echo "uncommitted_changes $(git -C "$root" status --porcelain 2>/dev/null | wc -l)"
        echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME")"
        echo "swift $(swift --version 2>&1 | head -1)"
        echo "needs_glibc ${glibc:-none}"
        echo "needs_glibcxx ${glibcxx:-none}"
        (cd "$stage" && sha256sum steplab bench)
        (cd "$kit" && find lib -type f | sort | xargs sha256sum)
    } >"$kit/MANIFEST"

    # Static Foundation brings ICU and its ~30 MB of data into each binary (~57 MiB each stripped): two of them
    # exceed the 64 MiB carry limit, gzipped they take about 22 MiB each. gzip, not xz: every Linux has it.
    for product in steplab bench; do
        gzip -9 -n -c "$stage/$product" >"$kit/$product.gz"
    done

    # Fashion-MNIST for the image study: the test split whole and the first images of the training split, as
    # IDX files whose headers say how many (FashionMNIST.load reads them as they are). The whole training split
    # (26 MB gzipped) would break the carry limit.
    local fm=${STEPLAB_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
    if [ -e "$fm/train-images-idx3-ubyte.gz" ] && command -v python3 >/dev/null; then
        mkdir -p "$kit/fashion-mnist"
        cp "$fm/t10k-images-idx3-ubyte.gz" "$fm/t10k-labels-idx1-ubyte.gz" "$kit/fashion-mnist/"
        python3 -B - "$fm" "$kit/fashion-mnist" "${GPU_CHECK_TRAIN_IMAGES:-20000}" <<'PY'
import gzip, struct, sys
source, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for name, item in (("train-images-idx3-ubyte.gz", 784), ("train-labels-idx1-ubyte.gz", 1)):
    data = gzip.open(f"{source}/{name}").read()
    dims = data[3]
    header = bytearray(data[:4 + 4 * dims])
    count = min(count, struct.unpack(">I", header[4:8])[0])
    header[4:8] = struct.pack(">I", count)
    with open(f"{target}/{name}", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(bytes(header) + data[4 + 4 * dims: 4 + 4 * dims + count * item])
PY
    else
        echo "gpu-check: no Fashion-MNIST here ($fm): the kit runs no image study" >&2
    fi

    local bytes limit=$((64 << 20))
    bytes=$(du -sb "$kit" | cut -f1)
    (( bytes <= limit )) || die "gpu-kit is $((bytes >> 20)) MiB; the carry limit is 64 MiB"
    ls -lR "$kit" >&2
    echo "gpu-check: gpu-kit ready: $((bytes >> 20)) MiB ($bytes bytes), needs glibc >= ${glibc:-any}." >&2
    echo "gpu-check: on the GPU machine run 'scripts/gpu-check.sh run' with carry [\"gpu-kit\"]." >&2
}

# ---------------------------------------------------------------------------------------------------- run
out=""
summary=""
deadline=0
failures=0

# record NAME STATUS SECONDS NOTE: one line of the summary, echoed as progress.
record() {
    printf '%-26s %-9s %6s  %s\n' "$1" "$2" "$3" "$4" | tee -a "$summary"
}

# step NAME BUDGET_S CMD...: runs CMD with a time limit of BUDGET_S (less if the whole run's deadline is
# nearer), stdout and stderr into $out/NAME.log (stdout into $STDOUT_TO instead when that is set). A failure is
# recorded and counted, never fatal: every later step still runs.
step() {
    local name=$1 budget=$2
    shift 2
    local log="$out/$name.log" stdout_to=${STDOUT_TO:-}
    local now left limit rc=0 t0 secs status
    now=$(date +%s)
    left=$((deadline - now))
    limit=$(( budget < left ? budget : left ))
    if (( limit < 5 )); then
        record "$name" skipped - "no time left in the run's budget"
        failures=$((failures + 1))
        return 0
    fi
    echo "\$ $* (limit ${limit}s)" >>"$out/commands.txt"
    t0=$(date +%s)
    # -k: a step that ignores SIGTERM is killed 5 s later. </dev/null: no step may wait for input.
    if [ -n "$stdout_to" ]; then
        timeout -k 5 "$limit" "$@" >"$stdout_to" 2>"$log" </dev/null || rc=$?
    else
        timeout -k 5 "$limit" "$@" >"$log" 2>&1 </dev/null || rc=$?
    fi
    secs=$(( $(date +%s) - t0 ))
    case $rc in
        0) status=ok ;;
        124|137) status=TIMEOUT; failures=$((failures + 1)) ;;
        *) status="FAIL($rc)"; failures=$((failures + 1)) ;;
    esac
    record "$name" "$status" "$secs" "${stdout_to:+${stdout_to#"$out"/} }${log#"$out"/}"
    return 0
}

# The one folder the ICD loader will read .icd files from (ocl-icd's order; the Khronos loader agrees on the
# first and third): $OCL_ICD_VENDORS, $OPENCL_VENDOR_PATH, /etc/OpenCL/vendors, else /usr/share/OpenCL/vendors
# (read by some ocl-icd builds only when /etc/OpenCL/vendors does not exist).
vendor_dir() {
    if [ -n "${OCL_ICD_VENDORS:-}" ] && [ -d "${OCL_ICD_VENDORS}" ]; then echo "$OCL_ICD_VENDORS"
    elif [ -n "${OPENCL_VENDOR_PATH:-}" ]; then echo "$OPENCL_VENDOR_PATH"
    elif [ -d /etc/OpenCL/vendors ] || [ ! -d /usr/share/OpenCL/vendors ]; then echo /etc/OpenCL/vendors
    else echo /usr/share/OpenCL/vendors
    fi
}

# Prints the path of the NVIDIA OpenCL driver library, or nothing. Container runtimes mount the driver's
# libraries without the /etc/OpenCL/vendors/nvidia.icd that a packaged driver would install.
find_nvidia_opencl() {
    local candidate dir
    candidate=$(ldcache | awk '/libnvidia-opencl\.so\.1 .*x86-64/ { print $NF; exit }')
    if [ -n "$candidate" ] && [ -e "$candidate" ]; then echo "$candidate"; return; fi
    # GPU_CHECK_LIB_DIRS (colon-separated) is searched first: for odd driver layouts, and for testing.
    local dirs=()
    IFS=: read -r -a dirs <<<"${GPU_CHECK_LIB_DIRS:-}"
    dirs+=(/usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/nvidia*
           /usr/lib/x86_64-linux-gnu/nvidia* /usr/local/cuda/compat /usr/lib)
    for dir in "${dirs[@]}"; do
        [ -n "$dir" ] && [ -d "$dir" ] || continue
        # Prefer the soname link; a bare versioned file (libnvidia-opencl.so.550.54.15) works as well.
        candidate=$(find "$dir" -maxdepth 2 \( -name 'libnvidia-opencl.so.1' -o -name 'libnvidia-opencl.so.[0-9]*' \) \
                        2>/dev/null | sort | head -1)
        if [ -n "$candidate" ]; then echo "$candidate"; return; fi
    done
}

# Unpacks gpu-kit/{steplab,bench}.gz into a temporary folder and sets $bin to it. Tries $TMPDIR (or /tmp) first;
# where that is mounted noexec, falls back to a folder inside gpu-kit (never left behind: it would count against
# the carry limit next time).
bin=""
unpack_kit() {
    local dir product rc
    for dir in "${TMPDIR:-/tmp}" "$kit"; do
        bin=$(mktemp -d "$dir/gpu-check-bin.XXXXXX") || continue
        cleanup+=("$bin")
        for product in steplab bench; do
            gzip -dc "$kit/$product.gz" >"$bin/$product" || die "cannot unpack gpu-kit/$product.gz (carried whole?)"
            chmod +x "$bin/$product"
        done
        rc=0
        "$bin/steplab" --help >/dev/null 2>&1 || rc=$?
        # 126: not executable here (noexec mount). Anything else (a missing library, say) the steps will show.
        [ "$rc" -eq 126 ] || return 0
    done
    die "cannot execute the unpacked binaries in ${TMPDIR:-/tmp} or gpu-kit/"
}

run_checks() {
    cd "$root"
    [ -f "$kit/steplab.gz" ] && [ -f "$kit/bench.gz" ] \
        || die "gpu-kit/steplab.gz or gpu-kit/bench.gz missing: run 'scripts/gpu-check.sh build' first and carry [\"gpu-kit\"]"
    unpack_kit
    out=${OUT:-$root/gpu-out}
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    summary="$out/summary.txt"
    : >"$summary"
    : >"$out/commands.txt"
    local started
    started=$(date +%s)
    # The device machine allows 10 minutes a command; stop starting work well before that (override for tests).
    deadline=$((started + ${GPU_CHECK_BUDGET_S:-450}))

    {
        echo "# gpu-check run $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) ($(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}"), $(getconf GNU_LIBC_VERSION 2>/dev/null || echo 'glibc ?'))"
        sed -n 's/^commit /# kit commit /p; s/^uncommitted_changes /# kit uncommitted changes /p; s/^built /# kit built /p' gpu-kit/MANIFEST 2>/dev/null || true
    } >>"$summary"
    cp gpu-kit/MANIFEST "$out/MANIFEST" 2>/dev/null || true

    # glibc older than the build machine's: the binaries will not even start, so say why up front.
    local need have
    need=$(sed -n 's/^needs_glibc //p' gpu-kit/MANIFEST 2>/dev/null || true)
    have=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }' || true)
    if [ -n "$need" ] && [ "$need" != none ] && [ -n "$have" ] \
        && [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
        echo "# WARNING: the kit needs glibc >= $need, this machine has $have: expect the binaries to fail to start" >>"$summary"
    fi

    # 1. The ICD loader: use the system's when the binaries resolve one, else the kit's copy. Same for libstdc++
    #    when the system's is older than the build machine's (then `ldd` says "version GLIBCXX_... not found").
    local loader=system deps no_loader=0
    if command -v ldd >/dev/null; then
        deps=$(ldd "$bin/steplab" 2>&1 || true)
        grep -q 'libOpenCL\.so\.1 => not found' <<<"$deps" && no_loader=1
    else
        deps=""
        ldcache | grep -q 'libOpenCL\.so\.1 ' || no_loader=1
    fi
    # GPU_CHECK_KIT_LOADER=1 forces the kit's loader (to test that path, or to bypass a broken system one).
    if [ "$no_loader" = 1 ] || [ "${GPU_CHECK_KIT_LOADER:-0}" = 1 ]; then
        export LD_LIBRARY_PATH="$kit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        loader="gpu-kit/lib/libOpenCL.so.1 ($( [ "${GPU_CHECK_KIT_LOADER:-0}" = 1 ] && echo 'GPU_CHECK_KIT_LOADER=1' || echo 'the system has none'))"
    fi
    if grep -q 'libz\.so\.1 => not found' <<<"$deps" && [ -e "$kit/lib/zlib/libz.so.1" ]; then
        export LD_LIBRARY_PATH="$kit/lib/zlib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        loader="$loader; zlib from gpu-kit/lib/zlib (the system has none)"
    fi
    if grep -q 'libmpi\.so\.[0-9]* => not found' <<<"$deps" && [ -d "$kit/lib/mpi" ]; then
        export LD_LIBRARY_PATH="$kit/lib/mpi${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        loader="$loader; Open MPI from gpu-kit/lib/mpi (the system has none)"
    fi
    if grep -q "version .GLIBCXX_[0-9.]*' not found" <<<"$deps" && [ -e "$kit/lib/compat/libstdc++.so.6" ]; then
        export LD_LIBRARY_PATH="$kit/lib/compat${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        loader="$loader; libstdc++ from gpu-kit/lib/compat (the system's is too old)"
    fi

    # 2. The NVIDIA vendor ICD: if no .icd names NVIDIA, write one into a folder of our own, next to copies of the
    #    .icd files already registered (OCL_ICD_VENDORS replaces the default folder, so POCL etc. would vanish).
    local icd_state dir nvidia_lib="" icd_dir vendors registered
    vendors=$(vendor_dir)
    registered=$(grep -lis nvidia "$vendors"/*.icd 2>/dev/null | head -1 || true)
    if [ -n "$registered" ]; then
        icd_state="registered: $registered -> $(head -1 "$registered")"
    else
        nvidia_lib=$(find_nvidia_opencl)
        if [ -n "$nvidia_lib" ]; then
            icd_dir=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-icd.XXXXXX")
            cleanup+=("$icd_dir")
            cp "$vendors"/*.icd "$icd_dir"/ 2>/dev/null || true
            echo "$nvidia_lib" >"$icd_dir/nvidia.icd"
            export OCL_ICD_VENDORS="$icd_dir"
            icd_state="written: $icd_dir/nvidia.icd -> $nvidia_lib (OCL_ICD_VENDORS=$icd_dir)"
        else
            icd_state="none: no libnvidia-opencl found (no NVIDIA OpenCL on this machine)"
        fi
    fi
    {
        echo "# OpenCL loader: $loader"
        echo "# NVIDIA ICD: $icd_state"
    } >>"$summary"

    # What the machine looks like, for when something above did not work.
    {
        echo "== uname"; uname -a
        echo "== os-release"; cat /etc/os-release 2>/dev/null
        echo "== glibc"; getconf GNU_LIBC_VERSION 2>/dev/null
        echo "== LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
        echo "== OCL_ICD_VENDORS=${OCL_ICD_VENDORS:-}"
        echo "== STEPLAB_DEVICE=${STEPLAB_DEVICE:-} STEPLAB_KERNELS=${STEPLAB_KERNELS:-}"
        for dir in /etc/OpenCL/vendors /usr/share/OpenCL/vendors ${OCL_ICD_VENDORS:-}; do
            [ -d "$dir" ] || continue
            echo "== $dir"; for f in "$dir"/*.icd; do [ -e "$f" ] && echo "$f: $(head -1 "$f")"; done
        done
        echo "== /dev/nvidia*"; ls -l /dev/nvidia* 2>&1
        echo "== NVIDIA libraries (ldconfig)"; ldcache | grep -Ei 'nvidia|libcuda|OpenCL'
        echo "== ldd steplab"; ldd "$bin/steplab" 2>&1
        if [ -n "$nvidia_lib" ]; then echo "== ldd $nvidia_lib"; ldd "$nvidia_lib" 2>&1; fi
        echo "== python3"; command -v python3 && python3 --version 2>&1
    } >"$out/env.txt" 2>&1 || true

    printf '%-26s %-9s %6s  %s\n' step status secs log >>"$summary"

    # 3. The steps. Each budget is a cap for that step; the run's deadline (450 s after the start) clamps them, so
    #    a slow early step eats into the later ones rather than into the device machine's 10-minute limit.
    if command -v nvidia-smi >/dev/null; then
        step nvidia-smi 20 nvidia-smi
    else
        record nvidia-smi skipped - "nvidia-smi not installed"
    fi
    if command -v clinfo >/dev/null; then step clinfo 20 clinfo -l; fi
    step devices 30 "$bin/steplab" devices
    STDOUT_TO="$out/devices.json" step devices-json 30 "$bin/steplab" devices --json

    # Select "gpu" only if there is one: otherwise every --device gpu would fail as an unknown selector, and the
    # first device (POCL on a machine without a GPU) still shows that the kit itself works.
    local device=0
    if grep -Eq '"kind"[[:space:]]*:[[:space:]]*"gpu"' "$out/devices.json" 2>/dev/null; then device=gpu; fi
    device=${GPU_CHECK_DEVICE:-$device}
    if [ "$device" = gpu ]; then
        echo "# device selector: --device gpu (a GPU is listed)" | tee -a "$summary"
    else
        echo "# device selector: --device $device (no GPU listed${GPU_CHECK_DEVICE:+; set by GPU_CHECK_DEVICE})" | tee -a "$summary"
    fi

    step device-check 90 "$bin/steplab" devices --check --device "$device"
    step bench-kernels 150 "$bin/bench" kernels --device "$device" --json "$out/kernels.json"
    # Where the step time goes on this device, kernel by kernel (queue profiling); seconds on a GPU.
    step bench-profile 60 "$bin/bench" profile --device "$device"
    step bench-profile-resmlp 60 "$bin/bench" profile --device "$device" --arch resmlp
    # The U-Net training step (batch 64, 28x28, channels 32/64/64): convolutions through im2col and the tiled matmul.
    step bench-profile-unet 90 "$bin/bench" profile --device "$device" --arch unet
    # The same with GroupNorm's CPU-shaped kernels (a work-item per sample), against the default work-group per sample.
    STEPLAB_GROUPNORM=perSample step bench-profile-unet-gn-per-sample 90 "$bin/bench" profile --device "$device" --arch unet
    # Self-attention at the 7x7 level: the work-group forward (the default on GPUs) against the per-row kernels.
    step bench-profile-unet-attention 90 "$bin/bench" profile --device "$device" --arch unet --attention-heads 4 --by-size
    STEPLAB_ATTENTION=perRow step bench-profile-unet-attention-per-row 90 \
        "$bin/bench" profile --device "$device" --arch unet --attention-heads 4 --by-size

    # Data parallelism across the first two GPUs, when there are two: the U-Net step on one GPU, then on both
    # (`--devices`), each reporting its wall time and the reduction's share of the step.
    local gpus
    gpus=$(python3 -c 'import json, sys; print(",".join(str(d["index"]) for d in json.load(open(sys.argv[1])) if d.get("kind") == "gpu"))' \
        "$out/devices.json" 2>/dev/null || true)
    if [ "$(tr ',' '\n' <<<"$gpus" | grep -c .)" -ge 2 ]; then
        local pair=${gpus%%,*},$(cut -d, -f2 <<<"$gpus")
        step train-unet-1gpu 60 "$bin/steplab" train --data fashion-mnist --iterations 100 --batch 128 --device "${gpus%%,*}" --out "$out/unet-1gpu"
        step train-unet-2gpu 60 "$bin/steplab" train --data fashion-mnist --iterations 100 --batch 128 --devices "$pair" --out "$out/unet-2gpu"
    else
        record multi-device skipped - "fewer than two GPUs listed"
    fi
    # The gradient buckets (reduced during the backward) against the whole vector after it (--gradient-buckets 0),
    # two replicas on this one GPU: each run prints the share of the step its averaging left unhidden, and the two
    # must write the same bytes.
    step train-unet-2replicas-buckets 45 "$bin/steplab" train --data fashion-mnist --iterations 30 --batch 128 \
        --devices "$device,$device" --out "$out/unet-2rep-buckets"
    step train-unet-2replicas-whole 45 "$bin/steplab" train --data fashion-mnist --iterations 30 --batch 128 \
        --devices "$device,$device" --gradient-buckets 0 --out "$out/unet-2rep-whole"
    step buckets-same-bytes 10 cmp "$out/unet-2rep-buckets/model.safetensors" "$out/unet-2rep-whole/model.safetensors"

    # PyTorch on the same GPU, for the ratio in bench/RESULTS-GPU.md. Only when torch sees CUDA; before the study
    # because these are short and bounded.
    if command -v python3 >/dev/null \
        && timeout 60 python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
        local wb arch width batch
        for wb in mlp:256:4096 mlp:1024:1024 mlp:64:256 resmlp:256:4096 resmlp:64:256 unet:0:64; do
            arch=${wb%%:*} wb=${wb#*:}
            width=${wb%:*} batch=${wb#*:}
            STDOUT_TO="$out/pytorch-$arch-w$width-b$batch.json" step "pytorch-$arch-w$width-b$batch" 45 \
                python3 bench/pytorch/pytorch_reference.py --device cuda --seconds 5 --arch "$arch" --width "$width" --batch "$batch"
        done
    else
        record pytorch skipped - "no python3 with torch and CUDA"
    fi

    # The step-count study, last because it is the one step with no natural end on a slow device: it gets
    # whatever time is left. Only once `bench --help` lists it (older kits have no `study`).
    if timeout 20 "$bin/bench" --help 2>/dev/null | grep -Eq '^[[:space:]]+study([[:space:]]|$)'; then
        step bench-study 450 "$bin/bench" study --device "$device" --preset quick --out "$out/study"
        # The image study on the U-Net (quick preset: 30 minutes on 2 CPU cores), on the kit's Fashion-MNIST.
        if [ -e "$root/gpu-kit/fashion-mnist/t10k-images-idx3-ubyte.gz" ]; then
            STEPLAB_FASHION_MNIST="$root/gpu-kit/fashion-mnist" STEPLAB_CACHE="$out/cache" \
                step bench-study-images 300 "$bin/bench" study --device "$device" --data fashion-mnist --preset quick --out "$out/study-images"
        else
            record bench-study-images skipped - "the kit carries no Fashion-MNIST"
        fi
    else
        record bench-study skipped - "bench --help lists no 'study' subcommand"
    fi

    echo "# total $(( $(date +%s) - started )) s; $failures step(s) failed, timed out or left out for lack of time" >>"$summary"
    echo "gpu-check: logs in $out" >&2
    echo "----- $summary" >&2
    cat "$summary" >&2
    (( failures == 0 ))
}

case "${1:-}" in
    build) [ $# -eq 1 ] || usage; build ;;
    run) [ $# -eq 1 ] || usage; run_checks ;;
    *) usage ;;
esac
