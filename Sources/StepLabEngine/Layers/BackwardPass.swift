import OpenCLKit

/// One backward walk over a tape's record: the gradient of every value reached so far, and the sinks ops deliver
/// their inputs' gradients into. Built by `Tape.backward`.
///
/// Gradients come from the tape's arena in the order the walk asks for them, so a training step's backward, like
/// its forward, allocates nothing after the first step. An input that receives dL/dy unchanged (a residual stream)
/// shares dy's tensor instead of a copy, and later contributions add into it in place: by the time an op runs, every
/// reader of its output has run, so nothing reads that gradient again.
public final class BackwardPass {
    public let tape: Tape
    public var engine: Engine { tape.engine }
    /// Whether each value's gradient is wanted: it leads to a parameter or to a requested input.
    private let needed: [Bool]
    private var gradients: [Int: Tensor] = [:]
    /// Gradients in the tape's arena (the caller's seed is not: it is copied before anything adds into it).
    private var owned: Set<Int> = []
    /// Gradients that are already dL/dZ of their value's gated producer.
    private var gated: Set<Int> = []
    /// The output of the op whose backward is running.
    private var current = 0
    /// For each record, the parameters (by offset) whose gradients are final once its backward has run: those it is
    /// the first reader of in the forward. Empty unless the store has a `GradientWatch`.
    private var finalAfter: [Int: [Int]] = [:]

    init(tape: Tape, requested: Set<Int>) {
        self.tape = tape
        var needed = [Bool](repeating: false, count: tape.values.count)
        for index in requested { needed[index] = true }
        for record in tape.records where record.parameterized || record.inputs.contains(where: { needed[$0] }) {
            needed[record.output] = true
        }
        self.needed = needed
        guard let watch = tape.store.watch else { return }
        watch.beginBackward()
        var firstReader: [Int: Int] = [:]
        for (index, record) in tape.records.enumerated() {
            for offset in record.parameterOffsets where firstReader[offset] == nil { firstReader[offset] = index }
        }
        for (offset, index) in firstReader { finalAfter[index, default: []].append(offset) }
    }

    /// Walks the record in reverse from dL/d(`output`) = `seed`.
    func run(seed: Tensor, output: Int) throws(OpenCLError) {
        gradients[output] = seed
        for (index, record) in tape.records.enumerated().reversed() {
            try backward(record)
            // Sorted, so the watch sees the same order on every replica and rank.
            if let offsets = finalAfter[index] { try tape.store.watch?.final(offsets: offsets.sorted()) }
        }
    }

    /// One record's backward, when a gradient reached its output.
    private func backward(_ record: TapeRecord) throws(OpenCLError) {
        guard needed[record.output], var dy = gradients[record.output] else { return }
        current = record.output
        if let gate = tape.values[record.output].gate, !gated.contains(record.output) {
            dy = try own(record.output)
            try engine.activationBackward(preActivation: gate.preActivation, gradient: dy, gate.activation, into: dy)
        }
        try record.op.backward(dy, pass: self)
    }

    /// dL/d(`value`) after the walk (nil when none reached it).
    func gradient(of value: Int) -> Tensor? { gradients[value] }

    /// Where dL/d(`input`) goes, as a `rows x columns` tensor (default: the input's shape). Every op that reads the
    /// input asks with the same element count.
    public func sink(for input: Tensor, rows: Int? = nil, columns: Int? = nil) throws(OpenCLError) -> GradientSink {
        let (rows, columns) = (rows ?? input.rows, columns ?? input.columns)
        guard let index = tape.valueIndex(of: input, creating: false), needed[index] else { return .none }
        if gradients[index] != nil { return try .accumulate(own(index).reshaped(rows: rows, columns: columns)) }
        let gradient = try tape.allocate(rows: rows, columns: columns)
        gradients[index] = gradient
        owned.insert(index)
        let value = tape.values[index]
        if let gate = value.gate, value.consumers == 1 {
            gated.insert(index)
            return .write(gradient, gate: gate)
        }
        return .write(gradient, gate: nil)
    }

    /// Adds `dy`, the running op's output gradient, to dL/d(`input`) unchanged: the identity path of a residual add.
    public func passThrough(_ dy: Tensor, to input: Tensor) throws(OpenCLError) {
        guard let index = tape.valueIndex(of: input, creating: false), needed[index] else { return }
        if gradients[index] != nil {
            let target = try own(index)
            try engine.axpy(1, dy.reshaped(rows: target.rows, columns: target.columns), target)
        } else {
            gradients[index] = try dy.reshaped(rows: input.rows, columns: input.columns)
            if owned.contains(current) { owned.insert(index) }
        }
    }

    /// The gradient of `conditioning`, which ops read in slices (`Tape.noteSlice`) and whose backwards overwrite
    /// their slice; the columns no slice covers are zero. Nil when nothing needs it.
    public func sliceGradient(for conditioning: Tensor) throws(OpenCLError) -> Tensor? {
        guard let index = tape.valueIndex(of: conditioning, creating: false), needed[index] else { return nil }
        if let gradient = gradients[index] { return gradient }
        let gradient = try tape.allocate(rows: conditioning.rows, columns: conditioning.columns)
        if tape.values[index].slices.reduce(0, { $0 + $1.count }) < conditioning.columns { try engine.fill(gradient, 0) }
        gradients[index] = gradient
        owned.insert(index)
        return gradient
    }

    /// The value's gradient in the arena, copying a borrowed one (the caller's seed) first.
    private func own(_ index: Int) throws(OpenCLError) -> Tensor {
        let gradient = gradients[index]!
        if owned.contains(index) { return gradient }
        let copy = try tape.allocate(rows: gradient.rows, columns: gradient.columns)
        try engine.scale(1, gradient, into: copy)
        gradients[index] = copy
        owned.insert(index)
        return copy
    }
}

extension Tape {
    /// Derives the backward of the recorded pass from dL/d(`output`) = `outputGradient` (default output: the last
    /// recorded op's): adds dL/dθ into the parameter gradients and returns dL/d(input) for each of `inputs` (nil
    /// where none reaches it). Times and other inputs read only through ops without a backward rule for them get nil.
    public func backward(_ outputGradient: Tensor, output: Tensor? = nil, inputGradients inputs: [Tensor] = []) throws(OpenCLError) -> [Tensor?] {
        guard recording, let last = records.last else {
            throw .invalidRequest("backward through a pass that recorded nothing (begin it with recording: true)")
        }
        var outputIndex = last.output
        if let output {
            guard let index = valueIndex(of: output, creating: false) else { throw .invalidRequest("backward from a tensor the pass did not write") }
            outputIndex = index
        }
        guard outputGradient.count == values[outputIndex].tensor.count else {
            throw .invalidRequest("an output gradient of \(outputGradient.count) values for an output of \(values[outputIndex].tensor.count)")
        }
        let requested = inputs.map { valueIndex(of: $0, creating: false) }
        let pass = BackwardPass(tape: self, requested: Set(requested.compactMap { $0 }))
        let output = values[outputIndex].tensor
        try pass.run(seed: outputGradient.reshaped(rows: output.rows, columns: output.columns), output: outputIndex)
        return requested.map { $0.flatMap { pass.gradient(of: $0) } }
    }
}
