import OpenCLKit

/// One call site's memory for passes through a network: an arena of activations and gradients for the current
/// batch size, what each layer saved for its backward, and which parameters (live or EMA) the pass reads.
///
/// Every tensor of a pass comes from `allocate`, in order; the next pass at the same batch size gets the same
/// tensors back, so a training step or a sampling loop allocates nothing after its first pass. A pass at another
/// batch size frees the arena and builds a new one. Tensors handed out (the network output included) stay valid
/// until the next `begin` on this tape; the engine's queue is in order, so reusing them is safe.
public final class Tape {
    public let engine: Engine
    public let store: ParameterStore
    /// The batch size of the current pass.
    public private(set) var batch = 0
    /// Whether the current pass saves what a backward needs.
    public private(set) var recording = false
    /// The flat parameter values the current pass reads (the live values, or a same-layout copy such as the EMA).
    public private(set) var parameters: Tensor
    /// Per-pass conditioning shared by several layers (a time-conditioned network's FiLM scales and shifts),
    /// and its gradient during the backward.
    public var conditioning: Tensor?
    public var conditioningGradient: Tensor?

    private var arena: [Tensor] = []
    private var arenaBatch = 0
    private var cursor = 0
    private var saved: [ObjectIdentifier: [Tensor]] = [:]

    public init(engine: Engine, store: ParameterStore) {
        self.engine = engine
        self.store = store
        parameters = store.values
    }

    /// Starts a pass over `batch` rows reading `parameters` (default: the live values); `recording` keeps what a
    /// backward needs.
    public func begin(batch: Int, parameters: Tensor? = nil, recording: Bool) throws(OpenCLError) {
        guard batch > 0 else { throw .invalidRequest("a pass needs a positive batch (got \(batch))") }
        if let parameters, parameters.count != store.count {
            throw .invalidRequest("parameters of \(parameters.count) values for a network of \(store.count)")
        }
        if batch != arenaBatch {
            arena = []  // release the old arena before the new one grows
            arenaBatch = batch
        }
        self.batch = batch
        self.recording = recording
        self.parameters = parameters ?? store.values
        cursor = 0
        saved = [:]
        conditioning = nil
        conditioningGradient = nil
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

    /// Keeps `tensors` for `layer`'s backward (only while recording).
    public func save(_ tensors: [Tensor], for layer: AnyObject) {
        if recording { saved[ObjectIdentifier(layer)] = tensors }
    }

    /// What `layer` saved in this pass.
    public func saved(for layer: AnyObject) throws(OpenCLError) -> [Tensor] {
        guard let tensors = saved[ObjectIdentifier(layer)] else {
            throw .invalidRequest("backward through a layer without a recorded forward (begin the pass with recording: true)")
        }
        return tensors
    }

    /// The parameter `entry` in this pass's values.
    public func value(_ entry: ParameterStore.Entry) throws(OpenCLError) -> Tensor { try store.view(entry, in: parameters) }

    /// The gradient of parameter `entry`.
    public func gradient(_ entry: ParameterStore.Entry) throws(OpenCLError) -> Tensor { try store.view(entry, in: store.gradients) }
}
