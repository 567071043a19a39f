#!/usr/bin/env python3
"""Rebuilds a StepLab VP model (diffusion or multistep consistency run) from its run folder in PyTorch and samples it
with DDIM from given noise, as `steplab sample --run RUN --noise NOISE --steps N` does (no clipping), writing the
samples in the data's units as CSV. Everything runs in float64, so the difference to StepLab's float32 is StepLab's
own rounding. Tensor names and layouts: steplab_networks.py.

    python3 bench/pytorch/steplab_sample.py RUN_DIR --noise noise.csv --steps 4 --out samples.csv [--raw]
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from steplab_networks import load_steplab_checkpoint, time_embedding  # noqa: E402

OFFSET, T_MAX = 0.008, 1.0 - 2.0 ** -17
ANGLE = math.pi / (2 * (1 + OFFSET))


def alpha_sigma(t):
    """The cosine schedule as StepLab computes it (Sources/StepLabEngine/NoiseSchedule.swift)."""
    t = min(max(t, 0.0), T_MAX)
    return math.sin((1 - t) * ANGLE), math.sin((t + OFFSET) * ANGLE)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--noise", required=True, help="CSV of count x d standard normal values (no header)")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--raw", action="store_true", help="the raw weights instead of the EMA")
    args = parser.parse_args()

    network, config = load_steplab_checkpoint(os.path.join(args.run, "model.safetensors"), ema=not args.raw)
    if config["method"] not in ("diffusion", "mct", "mcd"):
        sys.exit(f"error: {config['method']} runs are sampled in EDM sigma space; this script does VP models")
    network = network.double().eval()
    frequencies, scale = config.get("frequencies", 8), config.get("timeScale", 1000.0)
    prediction = config.get("prediction", "v")
    z = torch.from_numpy(np.loadtxt(args.noise, delimiter=",", ndmin=2)).double()
    n = z.shape[0]
    with torch.no_grad():
        for i in range(args.steps, 0, -1):
            tv, sv = i / args.steps, (i - 1) / args.steps
            # StepLab's times are float32; so are the values it embeds.
            t = torch.full((n, 1), float(np.float32(tv)), dtype=torch.float64)
            out = network(torch.cat([z, time_embedding(t, frequencies, scale)], dim=1), t)
            a, s = alpha_sigma(float(np.float32(tv)))
            x = (z - s * out) / a if prediction == "eps" else out if prediction == "x" else a * z - s * out
            if i == 1:
                break
            a_s, s_s = alpha_sigma(float(np.float32(sv)))
            z = a_s * x + (s_s / s) * (z - a * x)
    samples = x.numpy() * np.array(config["std"], dtype=np.float64) + np.array(config["mean"], dtype=np.float64)
    np.savetxt(args.out, samples, delimiter=",", fmt="%.9g")


if __name__ == "__main__":
    main()
