#!/usr/bin/env python3
"""The reference training workload of DESIGN.md in PyTorch, so `bench` can print StepLab's figure beside it.

Each step: a fresh batch of points from eight Gaussians (centres at radius 2, angles k*pi/4, std 0.1);
t ~ U(0,1); abar(t) = cos^2((t+0.008)/1.008 * pi/2); x_t = sqrt(abar) x0 + sqrt(1-abar) eps;
input = [x_t, sin(1000 t f_i), cos(1000 t f_i)], f_i = exp(-ln(10000) i/8), i = 0..7 (18 features);
MLP 18-W-W-W-2 with SiLU; loss mean((out - eps)^2); Adam(W) lr 1e-3; float32.
Prints one JSON object: {"steps_per_s": ..., ...}.
"""
import argparse
import json
import math
import resource
import time

import torch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="use torch.compile")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    w = args.width
    model = torch.nn.Sequential(
        torch.nn.Linear(18, w), torch.nn.SiLU(),
        torch.nn.Linear(w, w), torch.nn.SiLU(),
        torch.nn.Linear(w, w), torch.nn.SiLU(),
        torch.nn.Linear(w, 2),
    ).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    angles = torch.arange(8, device=device) * (math.pi / 4)
    centres = 2.0 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    freqs = torch.exp(-math.log(10000.0) * torch.arange(8, device=device) / 8)

    def step():
        k = torch.randint(0, 8, (args.batch,), device=device)
        x0 = centres[k] + 0.1 * torch.randn(args.batch, 2, device=device)
        t = torch.rand(args.batch, 1, device=device)
        abar = torch.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        eps = torch.randn_like(x0)
        xt = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        angle = 1000.0 * t * freqs
        inp = torch.cat([xt, torch.sin(angle), torch.cos(angle)], dim=1)
        loss = torch.mean((model(inp) - eps) ** 2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    if args.compile:
        step = torch.compile(step)
    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        loss = step()
        steps += 1
    loss_value = float(loss.detach())  # waits for the device
    elapsed = time.perf_counter() - start
    max_rss_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports kilobytes
    print(json.dumps({"steps_per_s": steps / elapsed, "steps": steps, "seconds": elapsed, "final_loss": loss_value,
                      "max_rss_bytes": max_rss_bytes,
                      "torch": torch.__version__, "threads": args.threads, "compile": args.compile,
                      "width": w, "batch": args.batch, "device": args.device}))


if __name__ == "__main__":
    main()
