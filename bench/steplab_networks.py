"""StepLab's denoiser networks in PyTorch, parameter for parameter, and a loader for StepLab checkpoints.

Tensor names and layouts (model.safetensors of a run folder holds `raw/NAME` and `ema/NAME`, float32; the
run's configuration is the JSON string in the metadata key "config"):

- every weight is stored inputs x outputs, the transpose of torch.nn.Linear.weight; every bias is 1 x outputs.
- mlp:    layers.L.weight / layers.L.bias, L = 0..depth; SiLU (the config's activation) after every layer but
          the last.
- resmlp: time.0, time.1, time.2 (the time MLP on emb(t); activation after 0 and 1; time.2 outputs every
          block's FiLM scale and shift, 2 x width per block, block B at columns [2 B width, 2 (B + 1) width),
          scale first); input; blocks.B.fc1, blocks.B.fc2; output.

Both take [z, emb(t)] with emb(t) = [sin(s t f_i), cos(s t f_i)], f_i = exp(-ln(10000) i / F), s = the
config's timeScale; resmlp also feeds emb(t) alone to its time MLP. Its block is
h + fc2(act(fc1(LayerNorm(h) * (1 + scale) + shift))) with LayerNorm without affine (eps 1e-5), and its head
output(act(LayerNorm(h))).
"""
import json
import math

import torch

ACTIVATIONS = {"silu": torch.nn.SiLU, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh,
               "gelu": lambda: torch.nn.GELU(approximate="tanh"), "identity": torch.nn.Identity}


def time_embedding(t, frequencies, scale):
    """emb(t) for t (batch x 1): [sin(scale t f_i), cos(scale t f_i)], f_i = exp(-ln(10000) i / F)."""
    f = torch.exp(-math.log(10000.0) * torch.arange(frequencies, device=t.device, dtype=t.dtype) / frequencies)
    angle = scale * t * f
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)


class MLP(torch.nn.Module):
    def __init__(self, inputs, width, depth, outputs, activation="silu"):
        super().__init__()
        sizes = [inputs] + [width] * depth + [outputs]
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = ACTIVATIONS[activation]()

    def forward(self, x, t=None):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.act(x)
        return x


class ResidualMLP(torch.nn.Module):
    def __init__(self, inputs, width, blocks, outputs, activation="silu", frequencies=8, time_scale=1000.0):
        super().__init__()
        self.width, self.blocks, self.frequencies, self.time_scale = width, blocks, frequencies, time_scale
        self.act = ACTIVATIONS[activation]()
        self.time = torch.nn.ModuleList([torch.nn.Linear(2 * frequencies, width), torch.nn.Linear(width, width),
                                         torch.nn.Linear(width, 2 * width * blocks)])
        self.input = torch.nn.Linear(inputs, width)
        self.fc1 = torch.nn.ModuleList(torch.nn.Linear(width, width) for _ in range(blocks))
        self.fc2 = torch.nn.ModuleList(torch.nn.Linear(width, width) for _ in range(blocks))
        for layer in self.fc2:  # adaLN-zero: every block starts as the identity
            torch.nn.init.zeros_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
        self.output = torch.nn.Linear(width, outputs)

    def forward(self, x, t):
        e = time_embedding(t, self.frequencies, self.time_scale)
        c = self.time[2](self.act(self.time[1](self.act(self.time[0](e)))))
        h = self.input(x)
        w = self.width
        for b in range(self.blocks):
            scale, shift = c[:, 2 * w * b: 2 * w * b + w], c[:, 2 * w * b + w: 2 * w * (b + 1)]
            n = torch.nn.functional.layer_norm(h, (w,), eps=1e-5) * (1 + scale) + shift
            h = h + self.fc2[b](self.act(self.fc1[b](n)))
        return self.output(self.act(torch.nn.functional.layer_norm(h, (w,), eps=1e-5)))

    def steplab_names(self):
        """torch Linear -> StepLab tensor name prefix."""
        names = {f"time.{i}": self.time[i] for i in range(3)}
        names["input"], names["output"] = self.input, self.output
        for b in range(self.blocks):
            names[f"blocks.{b}.fc1"], names[f"blocks.{b}.fc2"] = self.fc1[b], self.fc2[b]
        return names


def network_from_config(config):
    """The network a StepLab run configuration (config.json, or the checkpoint's metadata) describes."""
    d, f = config["dimension"], config.get("frequencies", 8)
    activation = config.get("activation", "silu")
    if config.get("architecture", "mlp") == "resmlp":
        return ResidualMLP(d + 2 * f, config["width"], config["blocks"], d, activation, f, config.get("timeScale", 1000.0))
    return MLP(d + 2 * f, config["width"], config["depth"], d, activation)


def load_steplab_checkpoint(path, ema=True):
    """(network, config) from a StepLab model.safetensors; `ema` picks the EMA weights when present."""
    from safetensors.numpy import load_file
    from safetensors import safe_open
    with safe_open(path, framework="numpy") as handle:
        config = json.loads(handle.metadata()["config"])
    tensors = load_file(path)
    prefix = "ema/" if ema and any(k.startswith("ema/") for k in tensors) else "raw/"
    network = network_from_config(config)
    linears = network.steplab_names() if isinstance(network, ResidualMLP) else \
        {f"layers.{i}": layer for i, layer in enumerate(network.layers)}
    with torch.no_grad():
        for name, layer in linears.items():
            layer.weight.copy_(torch.from_numpy(tensors[prefix + name + ".weight"]).T)
            layer.bias.copy_(torch.from_numpy(tensors[prefix + name + ".bias"]).reshape(-1))
    return network, config
