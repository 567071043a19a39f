#!/usr/bin/env python3
"""The reference training workload of DESIGN.md in PyTorch, so `bench` can print StepLab's figure beside it.

Each step: a fresh batch of points from eight Gaussians (centres at radius 2, angles k*pi/4, std 0.1);
t ~ U(0,1); abar(t) = cos^2((t+0.008)/1.008 * pi/2); x_t = sqrt(abar) x0 + sqrt(1-abar) eps;
input = [x_t, sin(1000 t f_i), cos(1000 t f_i)], f_i = exp(-ln(10000) i/8), i = 0..7 (18 features);
MLP 18-W-W-W-2 with SiLU; loss mean((out - eps)^2); Adam(W) lr 1e-3; float32.
Prints one JSON object: {"steps_per_s": ..., ...}.

With --serve it stays up and answers one JSON line per request line on stdin,
{"width": W, "batch": B, "seconds": S, "compile": bool}, keeping each workload's model (and torch.compile's
compiled step) between requests, so `bench` can alternate its own rounds with PyTorch's without paying for
start-up and compilation every round.
"""
import argparse
import json
import math
import resource
import sys
import time

import torch


class Workload:
    """One model, optimizer and (optionally compiled) training step, warmed up on creation."""

    def __init__(self, width, batch, compile, device, warmup):
        torch.manual_seed(0)
        self.device = device
        w = width
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
            k = torch.randint(0, 8, (batch,), device=device)
            x0 = centres[k] + 0.1 * torch.randn(batch, 2, device=device)
            t = torch.rand(batch, 1, device=device)
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

        self.step = torch.compile(step) if compile else step
        for _ in range(warmup):
            self.step()
        self.synchronize()

    def synchronize(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def measure(self, seconds):
        """Steady-state steps per second over at least `seconds`."""
        self.synchronize()
        steps = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            loss = self.step()
            steps += 1
        loss_value = float(loss.detach())  # waits for the device
        elapsed = time.perf_counter() - start
        return {"steps_per_s": steps / elapsed, "steps": steps, "seconds": elapsed, "final_loss": loss_value}


def reset_peak_rss():
    """Resets VmHWM to the current resident size (Linux 4.0+); False where the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes():
    """VmHWM (peak resident bytes since start or the last reset), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports kilobytes


def serve(args, device):
    workloads = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            key = (int(request["width"]), int(request["batch"]), bool(request.get("compile", False)))
            reset_peak_rss()
            if key not in workloads:
                workloads[key] = Workload(key[0], key[1], key[2], device, args.warmup)
            reply = workloads[key].measure(float(request.get("seconds", args.seconds)))
            reply.update({"max_rss_bytes": peak_rss_bytes(), "width": key[0], "batch": key[1], "compile": key[2]})
        except Exception as error:  # one bad request must not end the session
            reply = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="use torch.compile")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--serve", action="store_true", help="answer JSON requests on stdin, one per line")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.serve:
        serve(args, device)
        return
    workload = Workload(args.width, args.batch, args.compile, device, args.warmup)
    result = workload.measure(args.seconds)
    result.update({"max_rss_bytes": peak_rss_bytes(), "torch": torch.__version__, "threads": args.threads,
                   "compile": args.compile, "width": args.width, "batch": args.batch, "device": args.device})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
