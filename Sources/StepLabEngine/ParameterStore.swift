import OpenCLKit

/// Named parameter tensors laid out back to back in one device buffer, so the optimizer, the EMA and the
/// gradient-norm reduction each touch all of them in a single launch. The gradient buffer has the same
/// layout.
public final class ParameterStore {
    /// One named tensor of the layout.
    public struct Entry: Sendable, Equatable, Codable {
        public let name: String
        public let rows: Int
        public let columns: Int
        public let offset: Int
        public var count: Int { rows * columns }
    }

    public let entries: [Entry]
    /// Every parameter, flat.
    public let values: Tensor
    /// Every gradient, flat, same layout.
    public let gradients: Tensor
    /// Told by backward passes when gradients are final, so a data-parallel step can start reducing them early.
    public var watch: GradientWatch?

    /// Lays out `shapes` in order and allocates values and gradients.
    public init(engine: Engine, shapes: [(name: String, rows: Int, columns: Int)]) throws(OpenCLError) {
        var offset = 0
        var entries: [Entry] = []
        for shape in shapes {
            entries.append(Entry(name: shape.name, rows: shape.rows, columns: shape.columns, offset: offset))
            offset += shape.rows * shape.columns
        }
        self.entries = entries
        values = try engine.tensor(filled: 0, rows: 1, columns: offset)
        gradients = try engine.tensor(filled: 0, rows: 1, columns: offset)
    }

    /// The parameters `layout` declares, initialised as it says from a generator seeded by `seed`.
    public convenience init(engine: Engine, layout: ParameterLayout, seed: UInt64) throws(OpenCLError) {
        try self.init(engine: engine, shapes: layout.declarations.map { ($0.name, $0.rows, $0.columns) })
        try load(layout.initialValues(seed: seed))
    }

    /// Total number of scalars.
    public var count: Int { values.count }

    /// The parameter view `name` within `flat` (the values, the gradients, or a same-layout copy such as EMA).
    public func view(_ entry: Entry, in flat: Tensor) throws(OpenCLError) -> Tensor {
        try Tensor(storage: flat.storage, offset: flat.offset + entry.offset, rows: entry.rows, columns: entry.columns)
    }

    /// All parameters as (name, shape, values) in layout order, read from `flat` (default: the values).
    public func export(from flat: Tensor? = nil) throws(OpenCLError) -> [(name: String, rows: Int, columns: Int, values: [Float])] {
        let all = try (flat ?? values).download()
        return entries.map { ($0.name, $0.rows, $0.columns, Array(all[$0.offset ..< $0.offset + $0.count])) }
    }

    /// Sets every gradient to zero (once per step: layers add their gradients in).
    public func zeroGradients(engine: Engine) throws(OpenCLError) { try engine.fill(gradients, 0) }

    /// Copies all values from `source` (the values or EMA of a store with the same layout) into `flat`
    /// (default: the values), on the device.
    public func assign(from source: Tensor, into flat: Tensor? = nil) throws(OpenCLError) {
        let target = flat ?? values
        guard source.count == count, target.count == count else {
            throw .invalidRequest("parameter copy of \(source.count) values into a network of \(count)")
        }
        try target.storage.copy(from: source.storage, sourceOffset: source.offset, offset: target.offset, length: count)
    }

    /// Copies every entry of `source` into the entry of the same name and shape here, on the device; entries that
    /// `source` lacks keep their values (a network that adds parameters to the one it starts from, such as sCM's weighting).
    public func assign(byName source: ParameterStore) throws(OpenCLError) {
        for entry in source.entries {
            guard let target = entries.first(where: { $0.name == entry.name }), target.rows == entry.rows, target.columns == entry.columns else {
                throw .invalidRequest("parameter \(entry.name) (\(entry.rows)x\(entry.columns)) has no counterpart of that shape")
            }
            try values.storage.copy(from: source.values.storage, sourceOffset: source.values.offset + entry.offset,
                                    offset: values.offset + target.offset, length: entry.count)
        }
    }

    /// Loads named arrays into `flat` (default: the values). Every entry must be present with its exact size, and
    /// no other name may appear; the first difference in layout order is named.
    public func load(_ named: [String: [Float]], into flat: Tensor? = nil) throws(OpenCLError) {
        var all = [Float](repeating: 0, count: count)
        for entry in entries {
            guard let array = named[entry.name] else { throw .invalidRequest("parameter \(entry.name) is missing") }
            guard array.count == entry.count else {
                throw .invalidRequest("parameter \(entry.name) has \(array.count) values, expected \(entry.count) "
                                      + "(\(entry.rows)x\(entry.columns))")
            }
            all.replaceSubrange(entry.offset ..< entry.offset + entry.count, with: array)
        }
        let known = Set(entries.map(\.name))
        if let stranger = named.keys.sorted().first(where: { !known.contains($0) }) {
            throw .invalidRequest("unexpected parameter \(stranger): this network has no such tensor")
        }
        try (flat ?? values).upload(all)
    }
}
