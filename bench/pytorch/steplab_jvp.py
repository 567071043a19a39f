"""The forward-mode JVP of a StepLab network rebuilt in PyTorch, for comparison with StepLab's `Network.jvp`.

    python3 steplab_jvp.py MODEL.safetensors --inputs IN.csv --out OUT.csv

IN.csv holds one row per sample: the network input x (the network's inputs columns), its tangent dx, the times t
(the configuration's timeInputs, default 1) and their tangents dt, side by side. OUT.csv gets one row per sample: the output, then its directional derivative
along (dx, dt) from torch.func.jvp, in float64.
"""
import argparse

import numpy
import torch

from steplab_networks import load_steplab_checkpoint


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    network, config = load_steplab_checkpoint(args.model, ema=False)
    network = network.double()
    rows = numpy.loadtxt(args.inputs, delimiter=",", ndmin=2)
    times = config.get("timeInputs", 1)
    width = (rows.shape[1] - 2 * times) // 2
    x, dx = torch.from_numpy(rows[:, :width]), torch.from_numpy(rows[:, width:2 * width])
    t, dt = torch.from_numpy(rows[:, 2 * width:2 * width + times]), torch.from_numpy(rows[:, 2 * width + times:])
    with torch.no_grad():
        output, tangent = torch.func.jvp(lambda a, b: network(a, b), (x, t), (dx, dt))
    numpy.savetxt(args.out, numpy.concatenate([output.numpy(), tangent.numpy()], axis=1), delimiter=",", fmt="%.9g")


if __name__ == "__main__":
    main()
