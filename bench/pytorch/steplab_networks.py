"""StepLab's denoiser networks in PyTorch, parameter for parameter, and a loader for StepLab checkpoints.

Tensor names and layouts (model.safetensors of a run folder holds `raw/NAME` and `ema/NAME`, float32; the
run's configuration is the JSON string in the metadata key "config"):

- every weight is stored inputs x outputs (a Linear's: the transpose of torch.nn.Linear.weight; a convolution's:
  see unet); every bias is 1 x outputs.
- mlp:    layers.L.weight / layers.L.bias, L = 0..depth; SiLU (the config's activation) after every layer but
          the last.
- resmlp: time.0, time.1, time.2 (the time MLP on emb(t); activation after 0 and 1; time.2 outputs every
          block's FiLM scale and shift, 2 x width per block, block B at columns [2 B width, 2 (B + 1) width),
          scale first); input; blocks.B.fc1, blocks.B.fc2; output.

- unet:   time.0, time.1, time.2 (as resmlp; time.2 outputs every GroupNorm's scale and shift, 2 x channels
          per norm, scale first, norms in the order down blocks (norm1, norm2 each), middle.0, middle.1, up blocks,
          output norm); convolutions input, down.l.b.conv1, down.l.b.conv2, down.l.b.skip (when Cin != Cout),
          down.l.downsample, middle.0/1.conv1/conv2, up.l.b.conv1/conv2/skip, output. A k x k convolution's
          weight is (k k Cin) x Cout, row (kh k + kw) Cin + cin (torch: weight.permute(2, 3, 1, 0) flattened);
          its bias 1 x Cout. The configuration's "unet" object holds height, width, imageChannels, channels,
          channelMult, blocksPerLevel, groups and attentionHeads (absent or 0: no attention). With heads,
          middle.attention sits between middle.0 and middle.1: x + output(attend(qkv(GroupNorm(x)))), 1x1
          convolutions qkv (C -> 3C: q, k, v side by side, head h owning channels [h d, (h + 1) d) of each) and
          output (zero-initialised), softmax(q k^T / sqrt(d)) v over the pixels of each image.

- dit:    time.0, time.1, time.2 (as resmlp; time.2 outputs every LayerNorm's scale and shift, 2 x width per norm,
          scale first, norms in the order block b's two, then the output's); embed (P P c -> width), blocks.b.qkv,
          blocks.b.proj, blocks.b.fc1, blocks.b.fc2, output (width -> P P c). The configuration's "dit" object holds
          height, width, imageChannels, patch and heads; its width and depth are the run's width and blocks.
- several times per sample (the configuration's timeInputs, default 1): time.0 reads each time's embedding side
  by side, 2F values each.

All take [z, emb(t)] with emb(t) = [sin(s t f_i), cos(s t f_i)], f_i = exp(-ln(10000) i / F), s = the
config's timeScale; resmlp also feeds emb(t) alone to its time MLP. Its block is
h + fc2(act(fc1(LayerNorm(h) * (1 + scale) + shift))) with LayerNorm without affine (eps 1e-5), and its head
output(act(LayerNorm(h))). unet reads only z (H x W x c in HWC order, one row per sample) and emb(t) from t;
its residual block is skip(x) + conv2(n(conv1(n(x)))) with n = act(GroupNorm(G groups, eps 1e-5, no affine)
* (1 + scale) + shift), conv2 and the output convolution zero-initialised (the exact definition:
StepLab's U-Net spec, shared with the Swift network).
"""
import json
import math

import torch

ACTIVATIONS = {"silu": torch.nn.SiLU, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh,
               "gelu": lambda: torch.nn.GELU(approximate="tanh"), "identity": torch.nn.Identity}


def time_embedding(t, frequencies, scale):
    """emb(t) for t (batch x K): per time [sin(scale t f_i), cos(scale t f_i)], f_i = exp(-ln(10000) i / F), the K
    embeddings side by side (K = 2: MeanFlow's (r, t) or a shortcut model's (t, step size))."""
    f = torch.exp(-math.log(10000.0) * torch.arange(frequencies, device=t.device, dtype=t.dtype) / frequencies)
    angle = scale * t[:, :, None] * f
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=2).reshape(t.shape[0], -1)


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

    def steplab_names(self):
        """StepLab tensor name prefix -> torch Linear."""
        return {f"layers.{i}": layer for i, layer in enumerate(self.layers)}


class ResidualMLP(torch.nn.Module):
    def __init__(self, inputs, width, blocks, outputs, activation="silu", frequencies=8, time_scale=1000.0, times=1):
        super().__init__()
        self.width, self.blocks, self.frequencies, self.time_scale = width, blocks, frequencies, time_scale
        self.act = ACTIVATIONS[activation]()
        self.time = torch.nn.ModuleList([torch.nn.Linear(2 * frequencies * times, width), torch.nn.Linear(width, width),
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
        """StepLab tensor name prefix -> torch Linear."""
        names = {f"time.{i}": self.time[i] for i in range(3)}
        names["input"], names["output"] = self.input, self.output
        for b in range(self.blocks):
            names[f"blocks.{b}.fc1"], names[f"blocks.{b}.fc2"] = self.fc1[b], self.fc2[b]
        return names


def film_norm(x, c, offset, groups, act):
    """act(GroupNorm(x) * (1 + scale) + shift), scale and shift the columns of c at `offset`, C = x's channels each."""
    channels = x.shape[1]
    scale = c[:, offset: offset + channels, None, None]
    shift = c[:, offset + channels: offset + 2 * channels, None, None]
    # contiguous(): torch's forward-mode rule for group_norm views its tangent, which a permuted input leaves strided.
    return act(torch.nn.functional.group_norm(x.contiguous(), groups, eps=1e-5) * (1 + scale) + shift)


class ResBlock(torch.nn.Module):
    """skip(x) + conv2(n2(conv1(n1(x)))); n1, n2 read their FiLM columns at `offset` (Cin, then Cout wide)."""

    def __init__(self, cin, cout, groups, offset, act):
        super().__init__()
        self.cin, self.groups, self.offset, self.act = cin, groups, offset, act
        self.conv1 = torch.nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(cout, cout, 3, padding=1)
        torch.nn.init.zeros_(self.conv2.weight)
        torch.nn.init.zeros_(self.conv2.bias)
        self.skip = torch.nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, c):
        h = self.conv1(film_norm(x, c, self.offset, self.groups, self.act))
        h = self.conv2(film_norm(h, c, self.offset + 2 * self.cin, self.groups, self.act))
        return (x if self.skip is None else self.skip(x)) + h

    def steplab_names(self, prefix):
        names = {f"{prefix}.conv1": self.conv1, f"{prefix}.conv2": self.conv2}
        if self.skip is not None:
            names[f"{prefix}.skip"] = self.skip
        return names


class AttentionBlock(torch.nn.Module):
    """x + output(attention(qkv(GroupNorm(x)))) over the pixels of each image, `heads` heads."""

    def __init__(self, channels, heads, groups):
        super().__init__()
        self.heads, self.groups = heads, groups
        self.qkv = torch.nn.Conv2d(channels, 3 * channels, 1)
        self.output = torch.nn.Conv2d(channels, channels, 1)
        torch.nn.init.zeros_(self.output.weight)
        torch.nn.init.zeros_(self.output.bias)

    def forward(self, x):
        n, c, h, w = x.shape
        d = c // self.heads
        qkv = self.qkv(torch.nn.functional.group_norm(x.contiguous(), self.groups, eps=1e-5)).reshape(n, 3, self.heads, d, h * w)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # n x heads x tokens x d
        p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        o = (p @ v).transpose(-1, -2).reshape(n, c, h, w)
        return x + self.output(o)

    def steplab_names(self, prefix):
        return {f"{prefix}.qkv": self.qkv, f"{prefix}.output": self.output}


class UNet(torch.nn.Module):
    """StepLab's U-Net on H x W x c images (rows in HWC order); film_width is the time MLP's output width M."""

    def __init__(self, height, width, image_channels, channels=32, channel_mult=(1, 2, 2), blocks_per_level=1,
                 groups=8, activation="silu", frequencies=8, time_scale=1000.0, attention_heads=0, times=1):
        super().__init__()
        levels = len(channel_mult)
        if height % 2 ** (levels - 1) or width % 2 ** (levels - 1):
            raise ValueError(f"unet: {height} x {width} is not divisible by 2^{levels - 1}")
        self.height, self.width, self.image_channels = height, width, image_channels
        self.groups, self.frequencies, self.time_scale = groups, frequencies, time_scale
        self.act = ACTIVATIONS[activation]()
        widths = [channels * m for m in channel_mult]
        offset = 0

        def block(cin, cout):
            nonlocal offset
            b = ResBlock(cin, cout, groups, offset, self.act)
            offset += 2 * cin + 2 * cout
            return b

        self.input = torch.nn.Conv2d(image_channels, widths[0], 3, padding=1)
        self.down, self.downsample, skips, current = torch.nn.ModuleList(), torch.nn.ModuleList(), [], widths[0]
        for level, w in enumerate(widths):
            self.down.append(torch.nn.ModuleList())
            for _ in range(blocks_per_level):
                self.down[level].append(block(current, w))
                current = w
                skips.append(w)
            if level < levels - 1:
                self.downsample.append(torch.nn.Conv2d(w, w, 3, stride=2, padding=1))
        self.middle = torch.nn.ModuleList([block(current, current), block(current, current)])
        self.attention = AttentionBlock(current, attention_heads, groups) if attention_heads > 0 else None
        self.up = torch.nn.ModuleList([torch.nn.ModuleList() for _ in widths])
        for level in reversed(range(levels)):
            for _ in range(blocks_per_level):
                self.up[level].append(block(current + skips.pop(), widths[level]))
                current = widths[level]
        self.output_offset = offset
        self.output = torch.nn.Conv2d(widths[0], image_channels, 3, padding=1)
        torch.nn.init.zeros_(self.output.weight)
        torch.nn.init.zeros_(self.output.bias)
        self.film_width = offset + 2 * widths[0]
        time = 4 * channels
        self.time = torch.nn.ModuleList([torch.nn.Linear(2 * frequencies * times, time), torch.nn.Linear(time, time),
                                         torch.nn.Linear(time, self.film_width)])

    def forward(self, x, t):
        n, hh, ww, ch = x.shape[0], self.height, self.width, self.image_channels
        e = time_embedding(t, self.frequencies, self.time_scale)
        c = self.time[2](self.act(self.time[1](self.act(self.time[0](e)))))
        h = self.input(x[:, :hh * ww * ch].reshape(n, hh, ww, ch).permute(0, 3, 1, 2))
        skips = []
        for level, blocks in enumerate(self.down):
            for b in blocks:
                h = b(h, c)
                skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
        h = self.middle[0](h, c)
        if self.attention is not None:
            h = self.attention(h)
        h = self.middle[1](h, c)
        for level in reversed(range(len(self.up))):
            for i, b in enumerate(self.up[level]):
                if i == 0 and level < len(self.up) - 1:
                    h = torch.nn.functional.interpolate(h, scale_factor=2, mode="nearest")
                h = b(torch.cat([h, skips.pop()], dim=1), c)
        y = self.output(film_norm(h, c, self.output_offset, self.groups, self.act))
        return y.permute(0, 2, 3, 1).reshape(n, hh * ww * ch)

    def steplab_names(self):
        """StepLab tensor name prefix -> torch Linear or Conv2d."""
        names = {f"time.{i}": self.time[i] for i in range(3)}
        names["input"] = self.input
        for part, levels in (("down", self.down), ("up", self.up)):
            for level, blocks in enumerate(levels):
                for i, b in enumerate(blocks):
                    names.update(b.steplab_names(f"{part}.{level}.{i}"))
                if part == "down" and level < len(self.downsample):
                    names[f"down.{level}.downsample"] = self.downsample[level]
        for i, b in enumerate(self.middle):
            names.update(b.steplab_names(f"middle.{i}"))
        if self.attention is not None:
            names.update(self.attention.steplab_names("middle.attention"))
        names["output"] = self.output
        return names


def dit_positions(across, tokens, d):
    """The DiT's fixed positional embedding (tokens x d): token k = (i, j) = (k // across, k % across) gets
    [sin(i w), cos(i w), sin(j w), cos(j w)], w_k = 10000^(-k / (d / 4))."""
    quarter = d // 4
    w = torch.tensor([10000.0 ** (-k / quarter) for k in range(quarter)], dtype=torch.float64)
    k = torch.arange(tokens, dtype=torch.float64)
    i, j = (k // across)[:, None] * w, (k % across)[:, None] * w
    return torch.cat([torch.sin(i), torch.cos(i), torch.sin(j), torch.cos(j)], dim=1)


class DiT(torch.nn.Module):
    """StepLab's DiT on H x W x c images (rows in HWC order): P x P patches -> d-wide tokens + fixed positions, blocks
    of h + proj(attend(qkv(n1(h)))) and h + fc2(act(fc1(n2(h)))) with n = LayerNorm(token) * (1 + scale) + shift from
    the time MLP (per image), then output(n(h)) back into patches; proj, fc2 and output zero-initialised."""

    def __init__(self, height, width, image_channels, patch, heads, d, blocks, activation="silu", frequencies=8,
                 time_scale=1000.0, times=1):
        super().__init__()
        if height % patch or width % patch:
            raise ValueError(f"dit: {height} x {width} does not split into {patch} x {patch} patches")
        self.height, self.width, self.image_channels, self.patch, self.heads, self.d = height, width, image_channels, patch, heads, d
        self.frequencies, self.time_scale, self.blocks = frequencies, time_scale, blocks
        self.act = ACTIVATIONS[activation]()
        token = patch * patch * image_channels
        self.embed = torch.nn.Linear(token, d)
        self.qkv = torch.nn.ModuleList(torch.nn.Linear(d, 3 * d) for _ in range(blocks))
        self.proj = torch.nn.ModuleList(torch.nn.Linear(d, d) for _ in range(blocks))
        self.fc1 = torch.nn.ModuleList(torch.nn.Linear(d, 4 * d) for _ in range(blocks))
        self.fc2 = torch.nn.ModuleList(torch.nn.Linear(4 * d, d) for _ in range(blocks))
        self.output = torch.nn.Linear(d, token)
        for layer in list(self.proj) + list(self.fc2) + [self.output]:
            torch.nn.init.zeros_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
        self.film_width = 2 * d * (2 * blocks + 1)
        self.time = torch.nn.ModuleList([torch.nn.Linear(2 * frequencies * times, d), torch.nn.Linear(d, d),
                                         torch.nn.Linear(d, self.film_width)])
        self.tokens = (height // patch) * (width // patch)
        self.register_buffer("positions", dit_positions(width // patch, self.tokens, d).float())

    def patches(self, x):
        n, p, c = x.shape[0], self.patch, self.image_channels
        img = x[:, :self.height * self.width * c].reshape(n, self.height // p, p, self.width // p, p, c)
        return img.permute(0, 1, 3, 2, 4, 5).reshape(n, self.tokens, p * p * c)

    def join(self, tokens):
        n, p, c = tokens.shape[0], self.patch, self.image_channels
        img = tokens.reshape(n, self.height // p, self.width // p, p, p, c).permute(0, 1, 3, 2, 4, 5)
        return img.reshape(n, self.height * self.width * c)

    def forward(self, x, t):
        d = self.d
        e = time_embedding(t, self.frequencies, self.time_scale)
        c = self.time[2](self.act(self.time[1](self.act(self.time[0](e)))))
        column = 0

        def norm(h):
            nonlocal column
            scale, shift = c[:, None, column:column + d], c[:, None, column + d:column + 2 * d]
            column += 2 * d
            return torch.nn.functional.layer_norm(h, (d,), eps=1e-5) * (1 + scale) + shift

        h = self.embed(self.patches(x)) + self.positions.to(x.dtype)
        n, heads = x.shape[0], self.heads
        for b in range(self.blocks):
            q, k, v = self.qkv[b](norm(h)).reshape(n, self.tokens, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
            scores = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), dim=-1)
            h = h + self.proj[b]((scores @ v).permute(0, 2, 1, 3).reshape(n, self.tokens, d))
            h = h + self.fc2[b](self.act(self.fc1[b](norm(h))))
        return self.join(self.output(norm(h)))

    def steplab_names(self):
        """StepLab tensor name prefix -> torch Linear."""
        names = {f"time.{i}": self.time[i] for i in range(3)}
        names["embed"], names["output"] = self.embed, self.output
        for b in range(self.blocks):
            for part in ("qkv", "proj", "fc1", "fc2"):
                names[f"blocks.{b}.{part}"] = getattr(self, part)[b]
        return names


def network_from_config(config):
    """The network a StepLab run configuration (config.json, or the checkpoint's metadata) describes."""
    d, f = config["dimension"], config.get("frequencies", 8)
    activation = config.get("activation", "silu")
    architecture = config.get("architecture", "mlp")
    times = config.get("timeInputs", 1)
    if architecture == "unet":
        u = config["unet"]
        if u["height"] * u["width"] * u["imageChannels"] != d:
            raise ValueError(f"unet: {u['height']} x {u['width']} x {u['imageChannels']} != dimension {d}")
        return UNet(u["height"], u["width"], u["imageChannels"], u.get("channels", 32), u.get("channelMult", [1, 2, 2]),
                    u.get("blocksPerLevel", 1), u.get("groups", 8), activation, f, config.get("timeScale", 1000.0),
                    u.get("attentionHeads", 0), times)
    if architecture == "dit":
        s = config["dit"]
        return DiT(s["height"], s["width"], s["imageChannels"], s["patch"], s["heads"], config["width"], config["blocks"],
                   activation, f, config.get("timeScale", 1000.0), times)
    if architecture == "resmlp":
        return ResidualMLP(d + 2 * f, config["width"], config["blocks"], d, activation, f, config.get("timeScale", 1000.0), times)
    return MLP(d + 2 * f, config["width"], config["depth"], d, activation)


def steplab_tensors(network):
    """{NAME.weight / NAME.bias: float32 numpy array in StepLab's layout} of a network."""
    tensors = {}
    for name, layer in network.steplab_names().items():
        w = layer.weight.detach().float().cpu()
        if isinstance(layer, torch.nn.Conv2d):
            w = w.permute(2, 3, 1, 0).reshape(-1, w.shape[0])
        else:
            w = w.T
        tensors[name + ".weight"] = w.contiguous().numpy()
        tensors[name + ".bias"] = layer.bias.detach().float().cpu().reshape(1, -1).numpy()
    return tensors


def load_steplab_tensors(network, tensors, prefix=""):
    """Copies StepLab tensors ({prefix + NAME.weight / .bias: array}) into `network`."""
    with torch.no_grad():
        for name, layer in network.steplab_names().items():
            w = torch.from_numpy(tensors[prefix + name + ".weight"])
            if isinstance(layer, torch.nn.Conv2d):
                cout, cin, k, _ = layer.weight.shape
                w = w.reshape(k, k, cin, cout).permute(3, 2, 0, 1)
            else:
                w = w.T
            layer.weight.copy_(w)
            layer.bias.copy_(torch.from_numpy(tensors[prefix + name + ".bias"]).reshape(-1))


def load_steplab_checkpoint(path, ema=True):
    """(network, config) from a StepLab model.safetensors; `ema` picks the EMA weights when present."""
    from safetensors.numpy import load_file
    from safetensors import safe_open
    with safe_open(path, framework="numpy") as handle:
        config = json.loads(handle.metadata()["config"])
    tensors = load_file(path)
    prefix = "ema/" if ema and any(k.startswith("ema/") for k in tensors) else "raw/"
    network = network_from_config(config)
    load_steplab_tensors(network, tensors, prefix)
    return network, config
