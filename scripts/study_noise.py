#!/usr/bin/env python3
"""Writes the starting noise the step-count study samples seed S from (RandomKey(seed: S, stream: 500), Philox-4x32-10
and Box-Muller as Kernels/random.cl draws it), as a CSV for `steplab sample --noise`, and prints its column means in
standard errors. So a CLI run can be scored from exactly the noise a study model saw.

usage: scripts/study_noise.py SEED COUNT DIMENSION OUT.csv
"""
import sys

import numpy as np

M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
MASK = np.uint64(0xFFFFFFFF)


def philox(counter, key):
    """Philox-4x32-10 (Salmon et al. 2011) on arrays of counters, as random.cl's philox4x32_10."""
    c = [np.asarray(x, dtype=np.uint64) for x in counter]
    k0, k1 = np.uint64(key & 0xFFFFFFFF), np.uint64(key >> 32)
    for round_ in range(10):
        if round_ > 0:
            k0, k1 = (k0 + np.uint64(W0)) & MASK, (k1 + np.uint64(W1)) & MASK
        p0, p1 = np.uint64(M0) * c[0], np.uint64(M1) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & MASK, (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & MASK]
    return c


def unit_open(words):
    """random.cl's unit_open: odd multiples of 2^-24 in (0, 1)."""
    return (((words >> np.uint64(9)) << np.uint64(1)) | np.uint64(1)).astype(np.float64) * 2.0**-24


def normal(count, seed, stream):
    """count N(0, 1) values as Engine.normal writes them for RandomKey(seed:, stream:) at counter 0."""
    blocks = (count + 3) // 4
    index = np.arange(blocks, dtype=np.uint64)
    zero = np.zeros(blocks, dtype=np.uint64)
    w = philox([index, zero, zero, np.full(blocks, stream, dtype=np.uint64)], seed)
    values = []
    for a, b in ((w[0], w[1]), (w[2], w[3])):
        r, theta = np.sqrt(-2 * np.log(unit_open(a))), 2 * np.pi * unit_open(b)
        values += [r * np.cos(theta), r * np.sin(theta)]
    return np.stack(values, axis=1).reshape(-1)[:count]


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: scripts/study_noise.py SEED COUNT DIMENSION OUT.csv")
    seed, count, dimension, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    noise = normal(count * dimension, seed, 500).reshape(count, dimension)
    np.savetxt(out, noise, delimiter=",", fmt="%.8f")
    means = noise.mean(axis=0) * np.sqrt(count)
    print(f"wrote {out}: column means in standard errors: " + ", ".join(f"{m:+.2f}" for m in means))


if __name__ == "__main__":
    main()
