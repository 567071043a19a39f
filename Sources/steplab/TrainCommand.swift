import ArgumentParser
import Foundation
import OpenCLKit
import StepLabData
import StepLabEngine
import StepLabGenerative

/// `steplab train`: trains one model and writes a run folder.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a diffusion, consistency or multistep consistency model on 2-D, tabular or image data.",
        discussion: """
        Writes RUN_DIR/config.json (the resolved configuration), metrics.csv and metrics.jsonl (step, loss, grad_norm, \
        lr, wall_time) and model.safetensors (raw and EMA weights). Data is standardised per dimension for training; \
        `steplab sample` writes samples back in the data's own units.
        """
    )

    @Option(help: "Method: \(TrainingMethod.all.map(\.name).joined(separator: "|")).")
    var method: String = "mct"
    @Option(help: "Data: \(ToyDataset.allCases.map(\.rawValue).joined(separator: "|")), \(DataSpec.fashionMNISTName), a .csv/.npy file of points (one row per point), or an .npy array of images ((n, h, w), (n, h, w, c) or (n, c, h, w), c = 1 or 3, uint8 or float).")
    var data: String?
    @Option(help: "Run folder to create.")
    var out: String?
    @Option(help: "Continue the run in this folder from its newest checkpoint (its config.json decides everything else).")
    var resume: String?
    @Option(help: "Write a checkpoint every N iterations (and on SIGINT/SIGTERM, and at the end).") var checkpointEvery = 1000
    @Option(help: "Checkpoints to keep (newest first).") var keepCheckpoints = 3
    @Option(help: .hidden) var stopAfter: Int?
    @Option(help: "Training iterations.") var iterations = 10000
    @Option(help: "Batch size (default 512; 64 for a unet).") var batch: Int?
    @Option(help: "Network: \(NetworkArchitecture.allCases.map(\.rawValue).joined(separator: "|")) (default resmlp; unet for image data).")
    var arch: String?
    @Option(help: "Base channels C of a unet: level l has C times its --channel-mult.") var channels = 32
    @Option(help: "Channel multiplier of each unet level, comma-separated; each level after the first halves the image.")
    var channelMult = "1,2,2"
    @Option(help: "Residual blocks per unet level (on each side).") var blocksPerLevel = 1
    @Flag(help: "Self-attention between the unet's two middle blocks (one head per 32 channels).") var attention = false
    @Option(help: "Patch size P of a dit: its tokens are P x P patches of the image (width: --width, default 128; depth: --blocks; one head per 64 channels).")
    var patch = 4
    @Option(help: "Hidden width of the network (default 256; 1024 for image data).") var width: Int?
    @Option(help: "Hidden layers of an mlp.") var depth = 3
    @Option(help: "Residual blocks of a resmlp, transformer blocks of a dit.") var blocks = 3
    @Option(help: "AdamW learning rate (default 2e-3 for diffusion and edm; for ct, cd, mct and mcd 2e-4 with --init and 1e-3 from scratch; 2e-4 for ect; 1e-3 for meanflow and shortcut; on images at most 1e-3).") var lr: Float?
    @Option(help: "Learning-rate decay after the warm-up: constant|cosine (to zero at the last iteration).") var lrSchedule = "constant"
    @Option(help: "Iterations of linear learning-rate warm-up from zero.") var warmup = 0
    @Option(help: "Random seed (initialisation, batches, noise).") var seed: UInt64 = 0
    @Option(help: "Segments S for mct/mcd (S = 1 is a one-step consistency model; default 4).") var segments: Int?
    @Option(help: "Run folder of a trained diffusion model: the teacher for cd/mcd (a diffusion run), or for scm's distillation, sCD (an edm run).") var teacher: String?
    @Option(help: "Run folder whose raw weights initialise this model (same architecture), e.g. a diffusion run for mct.") var `init`: String?
    @Option(help: "EMA decay of the weights used for sampling.") var ema: Float = 0.999
    @Option(help: "Network output on the VP schedule: v|x|eps (x is trained with the SNR+1 weight). Default: v, or the --init run's for an initialised run.")
    var prediction: String?
    @Option(help: "Clip the global gradient norm to this (default 1 on images, 0 otherwise; 0 disables).") var clip: Float?
    @Option(help: "Multiplier of t (or EDM's c_noise) in the sinusoidal time embedding (default: the --init run's; else 1 for scm, whose time derivative the high frequencies swamp, and ect, whose paired noise levels they tell apart, and 1000 for the others).") var timeScale: Float?
    @Option(help: "Log every N iterations.") var logEvery = 100
    @Option(help: "Device: index, gpu|cpu|accelerator, or a name substring (default: $STEPLAB_DEVICE, else the first GPU).")
    var device: String?
    @Option(help: "Data-parallel training on several devices, comma-separated, each as --device takes it (0,1 or gpu,gpu); one replica per entry, the batch split evenly between them (a multiple of 4 per device). A device may appear twice.")
    var devices: String?
    @Flag(help: "At the end, print each kernel's device time per iteration on the first device (queue profiling), beside the loop's wall time per iteration (which includes the first iteration's kernel builds).")
    var profile = false
    @Option(help: "Data-parallel gradients are averaged in buckets of about this many floats while the backward runs (0: the whole vector after it; the same bytes either way).")
    var gradientBuckets = DataParallelTrainer.defaultBucketFloats

    /// `--devices` as selectors, or nil.
    var deviceSelectors: [String]? {
        devices.map { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    func validate() throws {
        guard checkpointEvery > 0, keepCheckpoints > 0 else { throw ValidationError("--checkpoint-every and --keep-checkpoints must be positive") }
        guard gradientBuckets >= 0 else { throw ValidationError("--gradient-buckets must be 0 or a positive number of floats (got \(gradientBuckets))") }
        if let selectors = deviceSelectors {
            guard device == nil else { throw ValidationError("pass --device or --devices, not both") }
            guard selectors.allSatisfy({ !$0.isEmpty }) else { throw ValidationError("--devices must be a comma-separated list like 0,1 (got '\(devices!)')") }
        }
        if resume != nil {
            guard data == nil, out == nil else { throw ValidationError("--resume takes the data and folder from the run; drop --data and --out") }
            return
        }
        guard data != nil, out != nil else { throw ValidationError("train needs --data and --out (or --resume RUN_DIR)") }
        guard let method = TrainingMethod(name: method) else {
            throw ValidationError("unknown method '\(self.method)': use one of \(TrainingMethod.all.map(\.name).joined(separator: ", "))")
        }
        guard iterations > 0 else { throw ValidationError("--iterations must be positive (got \(iterations))") }
        if let batch { guard batch > 0 else { throw ValidationError("--batch must be positive (got \(batch))") } }
        guard channels > 0, blocksPerLevel > 0, UNetShape.channelMult(parsing: channelMult) != nil else {
            throw ValidationError("--channels and --blocks-per-level must be positive and --channel-mult positive integers like 1,2,2")
        }
        guard width ?? 1 > 0, depth > 0 else { throw ValidationError("--width and --depth must be positive") }
        if let arch, NetworkArchitecture(rawValue: arch) == nil {
            throw ValidationError("unknown --arch '\(arch)': use one of \(NetworkArchitecture.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard blocks > 0 else { throw ValidationError("--blocks must be positive (got \(blocks))") }
        if let lr { guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number (got \(lr))") } }
        if let clip { guard clip >= 0, clip.isFinite else { throw ValidationError("--clip must be 0 (off) or positive (got \(clip))") } }
        if LearningRateSchedule.Decay(rawValue: lrSchedule) == nil {
            throw ValidationError("unknown --lr-schedule '\(lrSchedule)': use constant or cosine")
        }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative (got \(warmup))") }
        if let segments {
            guard segments >= 1 else { throw ValidationError("--segments must be at least 1 (got \(segments))") }
            guard method.usesSegments else {
                throw ValidationError("--segments applies to \(Self.names { $0.usesSegments }), not to --method \(method)")
            }
        }
        guard (0 ..< 1).contains(ema) else { throw ValidationError("--ema must be in [0, 1) (got \(ema))") }
        if let prediction, Prediction(name: prediction) == nil { throw ValidationError("--prediction must be x, v or eps (got \(prediction))") }
        guard logEvery > 0 else { throw ValidationError("--log-every must be positive") }
        if let timeScale, !(timeScale > 0 && timeScale.isFinite) { throw ValidationError("--time-scale must be positive (got \(timeScale))") }
        if method.needsTeacher && teacher == nil {
            throw ValidationError("--method \(method) needs --teacher RUN_DIR (a \(method.teacherMethod ?? "diffusion") run)")
        }
        if method.needsInit && `init` == nil {
            throw ValidationError("--method \(method) tunes a trained diffusion model: pass --init RUN_DIR (an edm run)")
        }
        if !method.acceptsTeacher, teacher != nil {
            throw ValidationError("--teacher applies to \(Self.names { $0.acceptsTeacher }); --method \(method) trains without one")
        }
    }

    /// The methods that satisfy `condition`, as a sentence lists them: "a, b and c".
    static func names(_ condition: (TrainingMethod) -> Bool) -> String {
        let names = TrainingMethod.all.filter(condition).map(\.name)
        return names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " and " + names.last!
    }

    func run() throws {
        Interrupts.install()
        let job = try TrainingJob.current()
        defer { job.finish() }
        if let resume { return try resumeRun(RunFolder(resume), job: job) }
        let method = TrainingMethod(name: self.method)!
        let data = self.data!
        let spec: DataSpec
        do { spec = try DataSpec.parse(data) } catch { throw CLIError(error.description) }
        let normalization = spec.normalization()
        var config = RunConfig(method: method, data: data, dimension: spec.dimension, mean: normalization.mean,
                               std: normalization.std, iterations: iterations, batch: batch ?? 512,
                               width: width ?? (spec.imageShape == nil ? 256 : arch == NetworkArchitecture.dit.rawValue ? 128 : 1024),
                               depth: depth,
                               learningRate: lr ?? defaultLearningRate(method, images: spec.imageShape != nil), emaDecay: ema, seed: seed,
                               segments: method.usesSegments ? segments ?? 4 : 1, teacher: teacher, initFrom: `init`,
                               annealSteps: Swift.max(1, iterations / 2), maxGradientNorm: gradientClip(images: spec.imageShape != nil))
        // An initialised run takes the prediction and network of the run it starts from unless told otherwise.
        let initConfig = try `init`.map { try RunFolder($0).loadConfig() }
        config.prediction = prediction ?? initConfig?.prediction ?? "v"
        config.timeScale = timeScale ?? initConfig?.timeScale ?? method.defaultTimeScale
        if method.defaultTimeScale <= 10, let source = initConfig, source.timeScale > 10, timeScale == nil, job.writes {
            print("note: --init \(`init`!) embeds its time at --time-scale \(source.timeScale); \(method.name) from an edm run trained "
                  + "at --time-scale 1 does far better (docs/methods.md)")
        }
        config.timeInputs = method.timeInputs
        config.lrSchedule = LearningRateSchedule.Decay(rawValue: lrSchedule)
        config.warmup = warmup
        config.image = spec.imageShape
        try configureNetwork(&config, spec: spec, initConfig: initConfig)
        let folder = RunFolder(out!)
        if job.writes {
            try folder.prepareForTraining()
            guard folder.checkpointSteps().isEmpty else {
                throw CLIError("\(folder.url.path) holds checkpoints of an unfinished run; continue it with --resume \(folder.url.path) or remove it")
            }
        }
        try train(config, spec: spec, folder: folder, resuming: false, job: job)
    }

    /// Continues the run in `folder` from its latest checkpoint.
    func resumeRun(_ folder: RunFolder, job: TrainingJob) throws {
        let config = try folder.loadConfig()
        let spec: DataSpec
        do { spec = try DataSpec.parse(config.data) } catch { throw CLIError(error.description) }
        // A run stopped before its first checkpoint has only its configuration: it starts again from step 0.
        let unstarted = folder.checkpointSteps().isEmpty && !FileManager.default.fileExists(atPath: folder.weightsURL.path)
        if unstarted && job.writes {
            print("note: \(folder.url.path) stopped before its first checkpoint; starting it again from step 0 with its config.json")
        }
        try train(config, spec: spec, folder: folder, resuming: !unstarted, job: job)
    }

    /// The method's rate, at most 1e-3 on images: the U-Net's Fashion-MNIST recipe (lr 1e-3, clip 1) reached FD 17.4 in
    /// 1500 iterations where lr 2e-3 without clipping had 20.3 after 2206 (docs/methods.md, "Defaults, and why").
    private func defaultLearningRate(_ method: TrainingMethod, images: Bool) -> Float {
        let rate = method.defaultLearningRate(initialised: `init` != nil)
        return images ? Swift.min(rate, 1e-3) : rate
    }

    /// The global gradient norm's clip: `--clip` (0: none), else 1 on images (the same recipe) and none elsewhere.
    private func gradientClip(images: Bool) -> Float? {
        let value = clip ?? (images ? 1 : 0)
        return value > 0 ? value : nil
    }

    /// The network of a new run: `--arch` and its shape options, or the `--init` run's network when no `--arch` is given.
    func configureNetwork(_ config: inout RunConfig, spec: DataSpec, initConfig: RunConfig?) throws {
        config.architecture = arch.flatMap(NetworkArchitecture.init(rawValue:)) ?? (spec.imageShape == nil ? .resmlp : .unet)
        config.blocks = config.architecture == .resmlp || config.architecture == .dit ? blocks : nil
        if config.architecture == .dit {
            guard let image = spec.imageShape else {
                throw CLIError("--arch dit needs image data (\(DataSpec.fashionMNISTName), or an NPY array of images)")
            }
            let shape = DiTShape(height: image.height, width: image.width, imageChannels: image.channels, patch: patch,
                                 heads: DiTShape.heads(width: config.width))
            if let problem = shape.problem(modelWidth: config.width) { throw CLIError("--arch dit: \(problem)") }
            config.dit = shape
            if batch == nil { config.batch = 64 }
        }
        if config.architecture == .unet {
            guard let image = spec.imageShape else {
                throw CLIError("--arch unet needs image data (\(DataSpec.fashionMNISTName), or an NPY array of images)")
            }
            var shape = UNetShape(height: image.height, width: image.width, imageChannels: image.channels, channels: channels,
                                  channelMult: UNetShape.channelMult(parsing: channelMult)!, blocksPerLevel: blocksPerLevel)
            if attention { shape.attentionHeads = UNetShape.attentionHeads(channels: shape.levelChannels(shape.channelMult.count - 1)) }
            if let problem = shape.problem { throw CLIError("--arch unet: \(problem)") }
            config.unet = shape
            if batch == nil { config.batch = 64 }
        }
        if let source = initConfig, arch == nil {
            config.architecture = source.architecture ?? .mlp
            config.blocks = source.blocks
            config.depth = source.depth
            config.unet = source.unet
            config.dit = source.dit
            if width == nil { config.width = source.width }
        }
    }

    /// Trains on this process's devices; in an MPI job, as one rank of it (rank 0 writes the folder).
    func train(_ config: RunConfig, spec: DataSpec, folder: RunFolder, resuming: Bool, job: TrainingJob) throws {
        try job.checkSameConfiguration(config)
        // Rank 0 holds the folder's writer lock for the whole run, so a second job (or a second rank 0) cannot write it too.
        let lock = job.writes ? try folder.lockForWriting() : nil
        defer { lock?.release() }
        do {
            let selectors: [String?] = deviceSelectors ?? [device]
            let engines = try selectors.map { selector throws(OpenCLError) in try Engine(device: selector, profiling: profile) }
            if profile { engines[0].profiler = KernelProfiler() }
            try job.checkSameDeviceCount(engines.count)
            let replicaCount = engines.count * job.ranks, firstShard = engines.count * job.rank
            var replicas: [Trainer] = []
            for (index, engine) in engines.enumerated() {
                let shard = try BatchShard.split(batch: config.batch, count: replicaCount, index: firstShard + index)
                replicas.append(try replica(config, spec: spec, engine: engine, shard: shard, initialise: !resuming, copying: replicas.first?.model))
            }
            let trainer = try DataParallelTrainer(replicas: replicas, reduction: job.reduction(localReplicas: engines.count), firstShard: firstShard,
                                                  bucketFloats: gradientBuckets > 0 ? gradientBuckets : nil)
            let model = trainer.primary.model, engine = engines[0]
            var resumedAt: Int?
            if resuming {
                let (state, saved) = try folder.loadLatestCheckpoint(parameterCount: model.parameters.count)
                try trainer.restore(state)
                resumedAt = state.step
                print("resuming \(folder.url.path) at step \(state.step)")
                if job.writes, let saved, saved != replicaCount {
                    print("note: the checkpoint was written by \(saved) device(s) and this run has \(replicaCount): the same batches and random draws, "
                          + "summed in another order, so not the same bytes as continuing on \(saved)")
                }
            } else if job.writes {
                try folder.saveConfig(config)
            }
            if job.writes {
                print("training \(config.method) on \(config.data) (d = \(config.dimension)) for \(config.iterations) iterations, "
                      + "batch \(config.batch), \(config.denoiser.summary), "
                      + (replicaCount == 1 ? "device \(engine.device.name)"
                                           : "\(replicaCount) devices (\(job.ranks > 1 ? "\(job.ranks) ranks of \(engines.count): " : "")"
                                             + "\(engines.map(\.device.name).joined(separator: ", "))), \(config.batch / replicaCount) rows each"))
                print("config: " + Self.summary(of: config) + " (all of it in \(folder.configURL.path))")
            }
            let log = job.writes ? try MetricsLog(folder: folder, resumingAt: resumedAt) : nil
            let run = TrainingLoop(trainer: trainer, config: config, folder: folder, job: job, devices: replicaCount, keep: keepCheckpoints)
            guard try run.train(stopAfter: stopAfter, checkpointEvery: checkpointEvery, logEvery: logEvery, log: log) else { return }
            try run.checkpoint()
            // Every rank's share: a rank that finished its backward first waits for the others in the averaging, so
            // rank 0's alone says as much about which rank was slower as about the averaging.
            let shares = try job.everyRank(trainer.stepSeconds > 0 ? trainer.reductionSeconds / trainer.stepSeconds : 0)
            guard job.writes else { return }
            Progress.finish()
            try folder.saveWeights(model: model, ema: trainer.primary.ema, step: trainer.step, config: config)
            print(String(format: "done in %.1f s; wrote %@", Date().timeIntervalSince(run.start), folder.url.path))
            if let profiler = engine.profiler {
                // Every launch of the run, the first iteration's and the logging's included, over its iterations.
                print("profile (device \(engine.device.name), \(trainer.step - run.firstStep) iterations):")
                print(profiler.table(steps: trainer.step - run.firstStep, wallSeconds: Date().timeIntervalSince(run.start), limit: 20))
            }
            if replicaCount > 1, trainer.stepSeconds > 0 {
                let ranks = shares.count > 1 ? " (ranks: " + shares.map { String(format: "%.1f%%", 100 * $0) }.joined(separator: ", ") + ")" : ""
                print(String(format: "data-parallel: %.2f steps/s; averaging the gradients over %d replicas took %.1f%% of the step (%.2f ms a step, rank 0)",
                             Double(trainer.step - run.firstStep) / trainer.stepSeconds, replicaCount, 100 * trainer.reductionSeconds / trainer.stepSeconds,
                             1e3 * trainer.reductionSeconds / Double(Swift.max(1, trainer.step - run.firstStep))) + ranks)
            }
        } catch let error as OpenCLError {
            throw CLIError(error.description)
        }
    }

    /// One data-parallel replica on `engine`: its network (the `--init` weights, or `copying`'s so every replica starts
    /// from the same bytes), teacher, objective on `shard`, data source and trainer.
    func replica(_ config: RunConfig, spec: DataSpec, engine: Engine, shard: BatchShard, initialise: Bool, copying first: Denoiser?) throws -> Trainer {
        let model = try Denoiser(engine: engine, config: config.denoiser, seed: config.seed)
        if let first {
            try model.parameters.values.upload(first.parameters.values.download())
        } else if let initFrom = config.initFrom, initialise {
            // A resumed run takes its weights from the checkpoint, so the initialisation is not loaded again.
            let source = RunFolder(initFrom)
            let initConfig = try source.loadConfig()
            let (a, b) = (initConfig.denoiser, config.denoiser)
            guard initConfig.method.space == config.method.space else {
                throw CLIError("--init \(initFrom) was trained with --method \(initConfig.method) in \(initConfig.method.space.rawValue); "
                               + "\(config.method) works in \(config.method.space.rawValue): start from a run of the same kind"
                               + (config.method.needsInit || config.method.teacherMethod == "edm" ? " (an edm run)" : ""))
            }
            guard (a.timeInputs ?? 1) == (b.timeInputs ?? 1) else {
                throw CLIError("--init \(initFrom) is conditioned on \(a.timeInputs ?? 1) time(s) per sample and \(config.method) on "
                               + "\(b.timeInputs ?? 1)")
            }
            guard a.summary == b.summary, a.dimension == b.dimension, a.frequencies == b.frequencies,
                  a.activation == b.activation, initConfig.prediction == config.prediction else {
                throw CLIError("--init \(initFrom) has a different architecture (\(a.summary), "
                               + "dimension \(a.dimension), \(initConfig.prediction)-prediction) from this run "
                               + "(\(b.summary), dimension \(b.dimension), \(config.prediction)-prediction); pass the same --arch, --width, --depth/--blocks")
            }
            let initial = try source.loadModel(engine: engine, config: initConfig, ema: true)
            // By name: an scm network also carries its loss weighting, which an edm run lacks and which starts at zero.
            try model.parameters.assign(byName: initial.parameters)
        }
        var teacherModel: Denoiser?
        if let teacher = config.teacher {
            let source = RunFolder(teacher)
            let teacherConfig = try source.loadConfig()
            // cd and mcd integrate the VP teacher's ODE; sCD reads the flow from an EDM denoiser's network output.
            let wanted = config.method.teacherMethod ?? "diffusion"
            guard teacherConfig.method.name == wanted else {
                throw CLIError("--teacher \(teacher) was trained with --method \(teacherConfig.method); "
                               + "\(config.method) distils from a run of --method \(wanted)")
            }
            guard teacherConfig.dimension == config.dimension, teacherConfig.mean == config.mean, teacherConfig.std == config.std else {
                throw CLIError("--teacher \(teacher) was trained on other data (\(teacherConfig.data)) than this run (\(config.data))")
            }
            teacherModel = try source.loadModel(engine: engine, config: teacherConfig, ema: true)
        }
        let objective = try config.makeObjective(model: model, teacher: teacherModel, shard: shard)
        let source = try spec.source(engine: engine, normalization: Normalization(mean: config.mean, std: config.std), seed: config.seed)
        var adam = AdamW.Hyperparameters()
        adam.maxGradientNorm = config.maxGradientNorm
        return try Trainer(objective: objective, source: source,
                           config: OptimizationConfig(learningRate: config.learningRate, schedule: config.schedule, adam: adam,
                                                      emaDecay: config.emaDecay))
    }

    /// The resolved configuration as one line of `key=value`, without the per-dimension data statistics
    /// (784 numbers each for images; config.json keeps them).
    static func summary(of config: RunConfig) -> String {
        guard let data = try? RunFolder.sortedEncoder.encode(config),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return "" }
        func text(_ value: Any) -> String {
            // Nested values (a unet's shape) as compact JSON with sorted keys, not Swift's unordered description.
            guard value is [String: Any] || value is [Any],
                  let json = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else { return "\(value)" }
            return String(decoding: json, as: UTF8.self)
        }
        return object.keys.sorted().filter { $0 != "mean" && $0 != "std" }.map { "\($0)=\(text(object[$0]!))" }.joined(separator: " ")
    }
}
