import OpenCLKit

/// A U-Net network's shape and its time conditioning.
public struct UNetConfig: Sendable, Equatable {
    public var shape: UNetShape
    /// Columns of the network input; the first `shape.dimension` are the image (a denoiser's `[z, emb(t)]` carries
    /// emb(t) after it, which the U-Net does not read: it embeds t itself).
    public var inputs: Int
    public var activation: Activation
    /// F of the time MLP's sinusoidal input emb(t) (2F features), and the multiplier of t inside it.
    public var frequencies: Int
    public var timeScale: Float
    /// Times per sample the time MLP embeds (1: t; 2: MeanFlow's (r, t) or a shortcut model's (t, step)).
    public var times: Int
    /// Features of a learned loss weighting carried with the parameters (0: none; see `TimeConditioning`).
    public var weighting: Int

    public init(shape: UNetShape, inputs: Int? = nil, activation: Activation = .silu, frequencies: Int = 8, timeScale: Float = 1000,
                times: Int = 1, weighting: Int = 0) {
        self.shape = shape; self.inputs = inputs ?? shape.dimension; self.activation = activation
        self.frequencies = frequencies; self.timeScale = timeScale; self.times = times; self.weighting = weighting
    }

    /// Width of the time MLP's hidden layers (ADM: 4 C).
    public var timeWidth: Int { 4 * shape.channels }
}

/// A time-conditioned U-Net (DDPM/ADM style, Ho et al. 2020; Dhariwal & Nichol 2021) on NHWC images:
///
///     c = time.2(act(time.1(act(time.0(emb(t))))))            every norm's FiLM (scale, shift), in the order below
///     h = input(x)                                            3x3, c -> C_0
///     for level l: blocks down.l.b (-> C_l), each output kept as a skip; down.l.downsample (3x3 stride 2) if not last
///     middle.0, [middle.attention], middle.1                  at the lowest resolution (attention: `AttentionBlock`,
///                                                             with `attentionHeads` > 0)
///     for level l from the lowest: blocks up.l.b on concat(h, skip) (-> C_l), h upsampled 2x (nearest) first when
///         it comes from the level below
///     y = output(act(GN(h) (1 + scale) + shift))              3x3, C_0 -> c, zero-initialised
///
/// Blocks are `ConvResidualBlock`s; C_l = C * channelMult[l]. Norms read the conditioning in forward order: the down
/// blocks', the middle's, the up blocks', then the output norm's. The skip concatenation and the upsampling are one
/// copy (`Engine.placeChannels`). Tensor names: `time.{0,1,2}`, `input`, `down.l.b.{conv1,conv2,skip}`,
/// `down.l.downsample`, `middle.{0,1}.*`, `middle.attention.{qkv,output}`, `up.l.b.*`, `output` (each `.weight`,
/// `.bias`; see `Conv2d`, `Linear`).
public final class UNet: Network {
    public let engine: Engine
    public let config: UNetConfig
    public let parameters: ParameterStore
    let input: Conv2d
    let down: [[ConvResidualBlock]]
    let downsample: [Conv2d]
    let middle: [ConvResidualBlock]
    let attention: AttentionBlock?
    let up: [[ConvResidualBlock]]
    /// The skip joins before each up block.
    let joins: [[ChannelConcat]]
    let outputNorm: GroupNorm
    let output: Conv2d
    let time: TimeConditioning
    public var inputs: Int { config.inputs }
    public var outputs: Int { config.shape.dimension }

    public init(engine: Engine, config: UNetConfig, seed: UInt64) throws(OpenCLError) {
        let s = config.shape
        if let problem = s.problem { throw .invalidRequest("unet: \(problem)") }
        guard config.inputs >= s.dimension, config.frequencies > 0, config.times > 0 else {
            throw .invalidRequest("unet input of \(config.inputs) columns cannot hold \(s.height)x\(s.width)x\(s.imageChannels) images")
        }
        self.engine = engine
        self.config = config
        let levels = s.channelMult.count, act = config.activation
        var layout = ParameterLayout()
        var film = 0
        func block(_ name: String, _ height: Int, _ width: Int, _ inputs: Int, _ outputs: Int) -> ConvResidualBlock {
            let b = ConvResidualBlock(name, height: height, width: width, inputs: inputs, outputs: outputs, groups: s.groups,
                                      activation: act, modulationColumn: film, layout: &layout)
            film += b.modulationColumns
            return b
        }
        func side(_ level: Int) -> (Int, Int) { (s.height >> level, s.width >> level) }

        input = Conv2d("input", geometry: ConvolutionGeometry(height: s.height, width: s.width, inputChannels: s.imageChannels,
                                                              outputChannels: s.levelChannels(0)), layout: &layout)
        var channels = s.levelChannels(0)
        var skipChannels: [Int] = []
        var down: [[ConvResidualBlock]] = [], downsample: [Conv2d] = []
        for l in 0 ..< levels {
            let (h, w) = side(l)
            down.append((0 ..< s.blocksPerLevel).map { b in
                defer { channels = s.levelChannels(l); skipChannels.append(channels) }
                return block("down.\(l).\(b)", h, w, channels, s.levelChannels(l))
            })
            if l < levels - 1 {
                downsample.append(Conv2d("down.\(l).downsample", geometry: ConvolutionGeometry(
                    height: h, width: w, inputChannels: channels, outputChannels: channels, stride: 2), layout: &layout))
            }
        }
        let (lh, lw) = side(levels - 1)
        let firstMiddle = block("middle.0", lh, lw, channels, channels)
        attention = s.attentionHeads > 0 ? AttentionBlock("middle.attention", height: lh, width: lw, channels: channels,
                                                          heads: s.attentionHeads, groups: s.groups, layout: &layout) : nil
        middle = [firstMiddle, block("middle.1", lh, lw, channels, channels)]
        var up = [[ConvResidualBlock]](repeating: [], count: levels)
        for l in (0 ..< levels).reversed() {
            let (h, w) = side(l)
            up[l] = (0 ..< s.blocksPerLevel).map { b in
                defer { channels = s.levelChannels(l) }
                return block("up.\(l).\(b)", h, w, channels + skipChannels.removeLast(), s.levelChannels(l))
            }
        }
        outputNorm = GroupNorm(channels: channels, pixels: s.height * s.width, groups: s.groups, activation: act, modulationColumn: film)
        film += 2 * channels
        output = Conv2d("output", geometry: ConvolutionGeometry(height: s.height, width: s.width, inputChannels: channels,
                                                                outputChannels: s.imageChannels), zeroInitialised: true, layout: &layout)
        time = TimeConditioning(width: config.timeWidth, outputs: film, frequencies: config.frequencies,
                                timeScale: config.timeScale, times: config.times, weighting: config.weighting, activation: act,
                                layout: &layout)
        self.down = down; self.downsample = downsample; self.up = up
        joins = (0 ..< levels).map { l in
            (0 ..< s.blocksPerLevel).map { b in
                ChannelConcat(height: s.height >> l, width: s.width >> l, upsample: Self.upsampling(l, b, levels: levels))
            }
        }
        parameters = try ParameterStore(engine: engine, layout: layout, seed: seed)
    }

    public func forward(_ x: Tensor, time t: Tensor?, tape: Tape) throws(OpenCLError) -> Tensor {
        try time.condition(t, input: x, inputs: config.inputs, network: "unet", tape: tape)
        var h = try input.forward(x, tape: tape)
        var skips: [Tensor] = []
        for (l, blocks) in down.enumerated() {
            for block in blocks {
                h = try block.forward(h, tape: tape)
                skips.append(h)
            }
            if l < downsample.count { h = try downsample[l].forward(h, tape: tape) }
        }
        h = try middle[0].forward(h, tape: tape)
        if let attention { h = try attention.forward(h, tape: tape) }
        h = try middle[1].forward(h, tape: tape)
        for l in up.indices.reversed() {
            for (b, block) in up[l].enumerated() {
                h = try block.forward(joins[l][b].forward(h, skips.removeLast(), tape: tape), tape: tape)
            }
        }
        let y = try output.forward(outputNorm.forward(h, tape: tape), tape: tape)
        return try y.reshaped(rows: tape.batch, columns: outputs)
    }

    /// The upsampling of the path from below into up block b of level l: 2 for a level's first block, except at
    /// the lowest level, whose input comes from the middle at its own resolution.
    private static func upsampling(_ level: Int, _ block: Int, levels: Int) -> Int { block == 0 && level < levels - 1 ? 2 : 1 }
}

extension Reference {
    /// The unet forward in float64 from named parameters, for `input` (batch x inputs, the image first) at times `t`.
    public static func unetForward(_ config: UNetConfig, parameters p: [String: [Double]], input: [Double], t: [Float],
                                   batch: Int) -> [Double] {
        let s = config.shape, act = config.activation, levels = s.channelMult.count
        func linear(_ x: [Double], _ name: String, _ inputs: Int, _ outputs: Int, _ activation: Activation = .identity) -> [Double] {
            Reference.linear(x, batch: batch, inputs: inputs, outputs: outputs, weight: p[name + ".weight"]!, bias: p[name + ".bias"]!,
                             activation: activation)
        }
        func conv(_ x: [Double], _ name: String, _ g: ConvolutionGeometry, sampleStride: Int? = nil) -> [Double] {
            conv2d(x, samples: batch, sampleStride: sampleStride, geometry: g, weight: p[name + ".weight"]!, bias: p[name + ".bias"]!)
        }
        let embedding = timeEmbedding(t, frequencies: config.frequencies, scale: config.timeScale).map(Double.init)
        let tw = config.timeWidth
        let hidden = linear(linear(embedding, "time.0", 2 * config.frequencies * config.times, tw, act), "time.1", tw, tw, act)
        let film = p["time.2.bias"]!.count
        let c = linear(hidden, "time.2", tw, film)
        var column = 0
        func norm(_ x: [Double], _ channels: Int, _ pixels: Int, modulated: Bool = true) -> [Double] {
            guard modulated else { return groupNorm(x, pixels: pixels, channels: channels, groups: s.groups).y }
            var scale = [Double](), shift = [Double]()
            for n in 0 ..< batch {
                scale += c[n * film + column ..< n * film + column + channels]
                shift += c[n * film + column + channels ..< n * film + column + 2 * channels]
            }
            column += 2 * channels
            return groupNorm(x, pixels: pixels, channels: channels, groups: s.groups, scale: scale, shift: shift, activation: act).y
        }
        func block(_ x: [Double], _ name: String, _ h: Int, _ w: Int, _ cin: Int, _ cout: Int) -> [Double] {
            let g1 = ConvolutionGeometry(height: h, width: w, inputChannels: cin, outputChannels: cout)
            let g2 = ConvolutionGeometry(height: h, width: w, inputChannels: cout, outputChannels: cout)
            let branch = conv(norm(conv(norm(x, cin, h * w), name + ".conv1", g1), cout, h * w), name + ".conv2", g2)
            let skip = cin == cout ? x : conv(x, name + ".skip", ConvolutionGeometry(height: h, width: w, inputChannels: cin,
                                                                                     outputChannels: cout, kernel: 1))
            return zip(skip, branch).map { $0 + $1 }
        }
        var channels = s.levelChannels(0)
        var h = conv(input, "input", ConvolutionGeometry(height: s.height, width: s.width, inputChannels: s.imageChannels,
                                                         outputChannels: channels), sampleStride: config.inputs)
        var skips: [(values: [Double], channels: Int)] = []
        for l in 0 ..< levels {
            let (height, width) = (s.height >> l, s.width >> l)
            for b in 0 ..< s.blocksPerLevel {
                h = block(h, "down.\(l).\(b)", height, width, channels, s.levelChannels(l))
                channels = s.levelChannels(l)
                skips.append((h, channels))
            }
            if l < levels - 1 {
                h = conv(h, "down.\(l).downsample", ConvolutionGeometry(height: height, width: width, inputChannels: channels,
                                                                          outputChannels: channels, stride: 2))
            }
        }
        let (lh, lw) = (s.height >> (levels - 1), s.width >> (levels - 1))
        h = block(h, "middle.0", lh, lw, channels, channels)
        if s.attentionHeads > 0 {
            let qkv = conv(norm(h, channels, lh * lw, modulated: false), "middle.attention.qkv",
                           ConvolutionGeometry(height: lh, width: lw, inputChannels: channels, outputChannels: 3 * channels, kernel: 1))
            let attended = attention(qkv, tokens: lh * lw, channels: channels, heads: s.attentionHeads).output
            let branch = conv(attended, "middle.attention.output", ConvolutionGeometry(height: lh, width: lw, inputChannels: channels,
                                                                                        outputChannels: channels, kernel: 1))
            h = zip(h, branch).map { $0 + $1 }
        }
        h = block(h, "middle.1", lh, lw, channels, channels)
        for l in (0 ..< levels).reversed() {
            let (height, width) = (s.height >> l, s.width >> l)
            for b in 0 ..< s.blocksPerLevel {
                let skip = skips.removeLast()
                var joined = [Double](repeating: 0, count: batch * height * width * (channels + skip.channels))
                placeChannels(h, channels: channels, into: &joined, channels: channels + skip.channels, column: 0, height: height,
                              width: width, upsample: b == 0 && l < levels - 1 ? 2 : 1)
                placeChannels(skip.values, channels: skip.channels, into: &joined, channels: channels + skip.channels,
                              column: channels, height: height, width: width, upsample: 1)
                h = block(joined, "up.\(l).\(b)", height, width, channels + skip.channels, s.levelChannels(l))
                channels = s.levelChannels(l)
            }
        }
        return conv(norm(h, channels, s.height * s.width), "output", ConvolutionGeometry(
            height: s.height, width: s.width, inputChannels: channels, outputChannels: s.imageChannels))
    }
}
