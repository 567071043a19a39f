import OpenCLKit

/// One call site's memory for passes through a network, and the record of the ops a pass ran.
///
/// **Memory.** Every tensor of a pass comes from `allocate`, in order; the next pass at the same batch size gets
/// the same tensors back, so a training step or a sampling loop allocates nothing after its first pass. A pass at
/// another batch size frees the arena and builds a new one. Tensors handed out (the network output included) stay
/// valid until the next `begin` on this tape; the engine's queue is in order, so reusing them is safe.
///
/// **The record.** Each op a forward pass launches records itself (`record`) with the values it read and the
/// value it wrote; a value is known by where its tensor lives (storage and offset), so a reshaped view is the same
/// value. `backward` walks the record in reverse and calls each op's backward rule (`TapeOp`); with `tangents`,
/// each op also runs its tangent rule as it is recorded, so the pass carries d(value)/dε beside every value for the
/// input tangents set with `setTangent` (a forward-mode JVP).
public final class Tape {
    public let engine: Engine
    public let store: ParameterStore
    /// The batch size of the current pass.
    public private(set) var batch = 0
    /// Whether the current pass records its ops for a backward.
    public private(set) var recording = false
    /// Whether the current pass carries tangents (forward mode).
    public private(set) var tangents = false
    /// The flat parameter values the current pass reads (the live values, or a same-layout copy such as the EMA).
    public private(set) var parameters: Tensor
    /// Per-pass conditioning shared by several ops (a time-conditioned network's FiLM scales and shifts, side by side).
    public var conditioning: Tensor?
    /// Whether every sample of this tape's passes is at the same times: a sampler's step, whose times column is filled
    /// with one value. A time-conditioned network then conditions once, on the first row, and every sample reads that
    /// row, which removes the time MLP's per-sample products (about half a resmlp's forward). The output equals the
    /// per-row conditioning's, since a product computes each row alone. Set by the call site; passes that carry
    /// tangents refuse it (a time tangent is per sample).
    public var timesShared = false

    private var arena: [Tensor] = []
    private var arenaBatch = 0
    private var cursor = 0
    private var saved: [ObjectIdentifier: [Tensor]] = [:]
    /// The pass's ops in forward order, and its values.
    private(set) var records: [TapeRecord] = []
    private(set) var values: [TapeValue] = []
    private var valueIndex: [TapeValue.Key: Int] = [:]
    private var tangentOf: [Int: Tensor] = [:]
    /// Offsets of the parameters read since the last record: the next op recorded is the one that read them.
    private var reads: [Int] = []

    public init(engine: Engine, store: ParameterStore) {
        self.engine = engine
        self.store = store
        parameters = store.values
    }

    /// Starts a pass over `batch` rows reading `parameters` (default: the live values); `recording` keeps the record
    /// a backward needs, `tangents` carries forward-mode tangents (set the inputs' with `setTangent`).
    public func begin(batch: Int, parameters: Tensor? = nil, recording: Bool, tangents: Bool = false) throws(OpenCLError) {
        guard batch > 0 else { throw .invalidRequest("a pass needs a positive batch (got \(batch))") }
        if let parameters, parameters.count != store.count {
            throw .invalidRequest("parameters of \(parameters.count) values for a network of \(store.count)")
        }
        guard !(tangents && timesShared) else { throw .invalidRequest("a pass that carries tangents needs per-sample times") }
        if batch != arenaBatch {
            arena = []  // release the old arena before the new one grows
            arenaBatch = batch
        }
        self.batch = batch
        self.recording = recording
        self.tangents = tangents
        self.parameters = parameters ?? store.values
        cursor = 0
        saved = [:]
        conditioning = nil
        records = []
        values = []
        valueIndex = [:]
        tangentOf = [:]
        reads = []
    }

    /// The next tensor of this pass (uninitialised): the same one as in the previous pass at this batch size.
    public func allocate(rows: Int, columns: Int) throws(OpenCLError) -> Tensor {
        defer { cursor += 1 }
        if cursor < arena.count {
            let tensor = arena[cursor]
            if tensor.rows == rows && tensor.columns == columns { return tensor }
            arena[cursor] = try engine.tensor(rows: rows, columns: columns)
            return arena[cursor]
        }
        arena.append(try engine.tensor(rows: rows, columns: columns))
        return arena[cursor]
    }

    /// A tensor of the pass's batch rows and `columns` columns.
    public func allocate(columns: Int) throws(OpenCLError) -> Tensor { try allocate(rows: batch, columns: columns) }

    /// Keeps `tensors` for `owner` (only while recording): state outside the ops' record, such as a wrapper's inputs.
    public func save(_ tensors: [Tensor], for owner: AnyObject) {
        if recording { saved[ObjectIdentifier(owner)] = tensors }
    }

    /// What `owner` saved in this pass.
    public func saved(for owner: AnyObject) throws(OpenCLError) -> [Tensor] {
        guard let tensors = saved[ObjectIdentifier(owner)] else {
            throw .invalidRequest("nothing saved for this owner in the pass (begin the pass with recording: true)")
        }
        return tensors
    }

    /// The parameter `entry` in this pass's values.
    public func value(_ entry: ParameterStore.Entry) throws(OpenCLError) -> Tensor {
        if recording { reads.append(entry.offset) }
        return try store.view(entry, in: parameters)
    }

    /// The gradient of parameter `entry`.
    public func gradient(_ entry: ParameterStore.Entry) throws(OpenCLError) -> Tensor {
        store.watch?.willWrite(offset: entry.offset)
        return try store.view(entry, in: store.gradients)
    }

    /// A read-only row of `columns` zeros (a bias that adds nothing, for tangents of biased products).
    func zeroRow(columns: Int) throws(OpenCLError) -> Tensor {
        try Tensor(storage: engine.zeros(count: columns), rows: 1, columns: columns)
    }

    // MARK: The record

    /// Records `op`, which read `inputs` and wrote `output` in this pass: kept for a backward while recording, and
    /// its tangent computed now while carrying tangents. `gate` marks an output act(Z) whose activation is fused into
    /// the op: its backward then receives dL/dZ (see `Gate`). `parameterized` says whether the op reads parameters.
    public func record(_ op: any TapeOp, inputs: [Tensor], output: Tensor, gate: Gate? = nil, parameterized: Bool) throws(OpenCLError) {
        guard recording || tangents else { return }
        defer { reads = [] }
        let inputIndices = inputs.map { valueIndex(of: $0, creating: true)! }
        for index in inputIndices { values[index].consumers += 1 }
        let out = valueIndex(of: output, creating: true)!
        values[out].producer = records.count
        values[out].gate = gate
        values[out].tensor = output
        records.append(TapeRecord(op: op, inputs: inputIndices, output: out, parameterized: parameterized, parameterOffsets: reads))
        if tangents, let tangent = try op.tangent(self) {
            tangentOf[out] = tangent
        }
    }

    /// Notes that an op reads columns `columns` of `conditioning` as a FiLM slice whose gradient its backward writes
    /// (overwriting): slices must not overlap, and columns no slice covers get a zero gradient.
    public func noteSlice(of conditioning: Tensor, columns: Range<Int>) throws(OpenCLError) {
        guard recording, let index = valueIndex(of: conditioning, creating: true) else { return }
        if let other = values[index].slices.first(where: { $0.overlaps(columns) }) {
            throw .invalidRequest("two ops read overlapping conditioning columns \(other) and \(columns)")
        }
        values[index].slices.append(columns)
    }

    /// The index of the value held by `tensor` (nil when it is not on the record and `creating` is false).
    func valueIndex(of tensor: Tensor, creating: Bool) -> Int? {
        let key = TapeValue.Key(tensor)
        if let index = valueIndex[key] { return index }
        guard creating else { return nil }
        values.append(TapeValue(tensor: tensor))
        valueIndex[key] = values.count - 1
        return values.count - 1
    }

    // MARK: Tangents

    /// Sets d(`tensor`)/dε for a pass begun with `tangents` (an input of the pass: its shape must match).
    public func setTangent(_ tangent: Tensor, of tensor: Tensor) throws(OpenCLError) {
        guard tangents else { throw .invalidRequest("setTangent on a pass begun without tangents") }
        guard tangent.sameShape(as: tensor) else {
            throw .invalidRequest("a tangent of \(tangent.rows)x\(tangent.columns) for a \(tensor.rows)x\(tensor.columns) input")
        }
        tangentOf[valueIndex(of: tensor, creating: true)!] = tangent
    }

    /// d(`tensor`)/dε in this pass, or nil where it is zero (no input tangent reaches it).
    public func tangent(of tensor: Tensor) -> Tensor? {
        valueIndex(of: tensor, creating: false).flatMap { tangentOf[$0] }
    }
}

/// A value of a pass: the tensor that holds it, the record that wrote it, how many ops read it, the gate of its
/// fused activation and the FiLM slices ops read from it.
struct TapeValue {
    struct Key: Hashable {
        let storage: ObjectIdentifier
        let offset: Int
        init(_ tensor: Tensor) { storage = ObjectIdentifier(tensor.storage); offset = tensor.offset }
    }
    var tensor: Tensor
    var producer: Int?
    var consumers = 0
    var gate: Gate?
    var slices: [Range<Int>] = []
    init(tensor: Tensor) { self.tensor = tensor }
}

/// One op of a pass: the op, the values it read and the value it wrote.
struct TapeRecord {
    let op: any TapeOp
    let inputs: [Int]
    let output: Int
    let parameterized: Bool
    /// The parameters (by offset) the op read in the forward: its backward adds their gradients, so a gradient is
    /// final once the backward has passed the first op that read it (`GradientWatch`).
    let parameterOffsets: [Int]
}
