#!/usr/bin/env bash
# Installs what StepLab needs on a fresh Debian machine with Swift: the OpenCL ICD loader and headers, and
# POCL (OpenCL on the CPU) so there is always at least one device, zlib, the Fashion-MNIST files, OpenBLAS (the
# host comparison) and Open MPI (multi-machine training; StepLab links it). Skips
# everything already present.
set -euo pipefail

packages=(ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo zlib1g-dev dataset-fashion-mnist libopenblas0 libopenmpi-dev openmpi-bin)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
