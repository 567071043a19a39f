#!/usr/bin/env python3
"""The reference training workload (bench/kernels/TrainStepBench.swift) in PyTorch, so `bench` can print StepLab's figure beside it.

Each step: a fresh batch of points from eight Gaussians (centres at radius 2, angles k*pi/4, std 0.1);
t ~ U(0,1); abar(t) = cos^2((t+0.008)/1.008 * pi/2); x_t = sqrt(abar) x0 + sqrt(1-abar) eps;
input = [x_t, sin(1000 t f_i), cos(1000 t f_i)], f_i = exp(-ln(10000) i/8), i = 0..7 (18 features);
MLP 18-W-W-W-2 with SiLU; loss mean((out - eps)^2); Adam(W) lr 1e-3; float32.
Prints one JSON object: {"steps_per_s": ..., ...}. --arch resmlp trains StepLab's residual denoiser instead; --arch unet
trains StepLab's U-Net (steplab_networks.py; --image-side, --image-channels, --channels, --channel-mult,
--blocks-per-level, --groups) with the same step on images of uniform random pixels in [-1, 1] in place of the
Gaussians (input [x_t, emb(t)], d + 16 features, of which the U-Net reads x_t and recomputes emb(t) from t).

With --serve it stays up and answers one JSON line per request line on stdin,
{"width": W, "batch": B, "seconds": S, "compile": bool, "arch": A} (a unet request may also carry "image_side",
"image_channels", "channels", "channel_mult" (a list or "1,2,2"), "blocks_per_level" and "groups", else the
command line's; its "width" is ignored), keeping each workload's model (and torch.compile's
compiled step) between requests, so `bench` can alternate its own rounds with PyTorch's without paying for
start-up and compilation every round. {"task": "sample", "width": W, "batch": B, "steps": N, "seconds": S}
times DDIM sampling instead: the same network as an eps-predictor, N steps from t = 1 to 0 on the same
cosine schedule (t clamped to 1 - 2^-17 as StepLab does, so alpha > 0), answering {"samples_per_s": ...}.
"""
import argparse
import json
import math
import resource
import sys
import time

import torch

from steplab_networks import ResidualMLP, UNet


def reference_network(width, device):
    """MLP 18-W-W-W-2 with SiLU, as StepLab's Denoiser builds it for 2-D data with 8 frequencies."""
    return torch.nn.Sequential(
        torch.nn.Linear(18, width), torch.nn.SiLU(),
        torch.nn.Linear(width, width), torch.nn.SiLU(),
        torch.nn.Linear(width, width), torch.nn.SiLU(),
        torch.nn.Linear(width, 2),
    ).to(device)


def embedding_frequencies(device):
    """f_i = exp(-ln(10000) i / 8), i = 0..7."""
    return torch.exp(-math.log(10000.0) * torch.arange(8, device=device) / 8)


def network_input(z, t, freqs):
    """[z, sin(1000 t f), cos(1000 t f)]: the 18 network inputs of a batch (t is batch x 1)."""
    angle = 1000.0 * t * freqs
    return torch.cat([z, torch.sin(angle), torch.cos(angle)], dim=1)


def unet_options(source, defaults):
    """The U-Net's shape from a request (JSON keys) or the command line (`defaults`, argparse names)."""
    mult = source.get("channel_mult", defaults.channel_mult)
    if isinstance(mult, str):
        mult = [int(m) for m in mult.split(",")]
    return {"image_side": int(source.get("image_side", defaults.image_side)),
            "image_channels": int(source.get("image_channels", defaults.image_channels)),
            "channels": int(source.get("channels", defaults.channels)), "channel_mult": tuple(int(m) for m in mult),
            "blocks_per_level": int(source.get("blocks_per_level", defaults.blocks_per_level)),
            "groups": int(source.get("groups", defaults.groups))}


class Workload:
    """One model, optimizer and (optionally compiled) training step, warmed up on creation. `arch` "resmlp" trains
    StepLab's residual denoiser (3 FiLM blocks of `width`, steplab_networks.py) instead of the reference MLP;
    "unet" trains StepLab's U-Net (shape `unet`, unet_options' keys) on random images."""

    def __init__(self, width, batch, compile, device, warmup, arch="mlp", unet=None):
        torch.manual_seed(0)
        self.device = device
        dimension = 2
        if arch == "unet":
            side, channels = unet["image_side"], unet["image_channels"]
            dimension = side * side * channels
            net = UNet(side, side, channels, unet["channels"], unet["channel_mult"], unet["blocks_per_level"],
                       unet["groups"]).to(device)
            model = lambda x, t: net(x, t)
            parameters = net.parameters()
        elif arch == "resmlp":
            net = ResidualMLP(18, width, 3, 2).to(device)
            model = lambda x, t: net(x, t)
            parameters = net.parameters()
        else:
            mlp = reference_network(width, device)
            model = lambda x, t: mlp(x)
            parameters = mlp.parameters()
        optimizer = torch.optim.AdamW(parameters, lr=1e-3, weight_decay=0.0)
        angles = torch.arange(8, device=device) * (math.pi / 4)
        centres = 2.0 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
        freqs = embedding_frequencies(device)

        def data():
            if arch == "unet":
                return 2 * torch.rand(batch, dimension, device=device) - 1
            k = torch.randint(0, 8, (batch,), device=device)
            return centres[k] + 0.1 * torch.randn(batch, 2, device=device)

        def step():
            x0 = data()
            t = torch.rand(batch, 1, device=device)
            abar = torch.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
            eps = torch.randn_like(x0)
            xt = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
            loss = torch.mean((model(network_input(xt, t, freqs), t) - eps) ** 2)
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


class Sampling:
    """DDIM with the reference network (untrained: the rate does not depend on the weights)."""

    T_MAX = 1.0 - 2.0 ** -17

    def __init__(self, width, batch, device):
        torch.manual_seed(0)
        self.device, self.batch = device, batch
        self.model = reference_network(width, device)
        self.freqs = embedding_frequencies(device)

    def schedule(self, t):
        phi = (min(max(t, 0.0), self.T_MAX) + 0.008) / 1.008 * math.pi / 2
        return math.cos(phi), math.sin(phi)

    @torch.inference_mode()
    def sample(self, steps):
        z = torch.randn(self.batch, 2, device=self.device)
        t = torch.empty(self.batch, 1, device=self.device)
        for i in range(steps, 0, -1):
            tv, sv = i / steps, (i - 1) / steps
            t.fill_(min(tv, self.T_MAX))
            eps = self.model(network_input(z, t, self.freqs))
            alpha, sigma = self.schedule(tv)
            x0 = (z - sigma * eps) / alpha
            if i == 1:
                return x0
            alpha_s, sigma_s = self.schedule(sv)
            z = alpha_s * x0 + sigma_s * eps
        return x0

    def measure(self, steps, seconds):
        """Samples per second over at least `seconds` (at least one whole call)."""
        calls = 0
        start = time.perf_counter()
        while calls == 0 or time.perf_counter() - start < seconds:
            x = self.sample(steps)
            calls += 1
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        return {"samples_per_s": calls * self.batch / elapsed, "calls": calls, "seconds": elapsed,
                "finite": bool(torch.isfinite(x).all())}


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
            reset_peak_rss()
            if request.get("task") == "sample":
                key = ("sample", int(request["width"]), int(request["batch"]))
                if key not in workloads:
                    workloads[key] = Sampling(key[1], key[2], device)
                    workloads[key].sample(int(request["steps"]))  # warm-up
                reply = workloads[key].measure(int(request["steps"]), float(request.get("seconds", 0)))
                reply.update({"max_rss_bytes": peak_rss_bytes(), "width": key[1], "batch": key[2], "steps": int(request["steps"])})
                print(json.dumps(reply), flush=True)
                continue
            arch = request.get("arch", "mlp")
            unet = unet_options(request, args) if arch == "unet" else None
            width = 0 if arch == "unet" else int(request["width"])
            key = (width, int(request["batch"]), bool(request.get("compile", False)), arch,
                   tuple(sorted(unet.items())) if unet else None)
            if key not in workloads:
                workloads[key] = Workload(key[0], key[1], key[2], device, args.warmup, arch, unet)
            reply = workloads[key].measure(float(request.get("seconds", args.seconds)))
            reply.update({"max_rss_bytes": peak_rss_bytes(), "width": key[0], "batch": key[1], "compile": key[2], "arch": arch})
            if unet:
                del reply["width"]
                reply.update(unet)
        except Exception as error:  # one bad request must not end the session
            reply = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", choices=["mlp", "resmlp", "unet"], default="mlp")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="use torch.compile")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--serve", action="store_true", help="answer JSON requests on stdin, one per line")
    parser.add_argument("--image-side", type=int, default=28, help="unet: images are side x side")
    parser.add_argument("--image-channels", type=int, default=1, help="unet: channels of the images")
    parser.add_argument("--channels", type=int, default=32, help="unet: channels of the first level")
    parser.add_argument("--channel-mult", default="1,2,2", help="unet: each level's channels / --channels")
    parser.add_argument("--blocks-per-level", type=int, default=1, help="unet: residual blocks per level")
    parser.add_argument("--groups", type=int, default=8, help="unet: GroupNorm groups")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.serve:
        serve(args, device)
        return
    unet = unet_options({}, args) if args.arch == "unet" else None
    workload = Workload(args.width, args.batch, args.compile, device, args.warmup, args.arch, unet)
    result = workload.measure(args.seconds)
    result.update({"max_rss_bytes": peak_rss_bytes(), "torch": torch.__version__, "threads": args.threads,
                   "compile": args.compile, "arch": args.arch, "width": args.width, "batch": args.batch, "device": args.device})
    if unet:
        del result["width"]
        result.update(unet)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
