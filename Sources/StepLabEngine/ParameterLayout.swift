/// The parameters a network declares, in order, with how each starts: layers append to it while they are built,
/// then `ParameterStore(engine:layout:seed:)` lays them out in one flat buffer.
public struct ParameterLayout {
    /// How a parameter is initialised.
    public enum Initializer: Sendable {
        /// U(-bound, bound) (PyTorch's `Linear` default with bound 1/sqrt(fan_in)).
        case uniform(bound: Float)
        /// Zeros (adaLN-zero: a residual block that starts as the identity, DiT).
        case zeros
    }

    public struct Declaration {
        public let name: String
        public let rows: Int
        public let columns: Int
        public let initializer: Initializer
    }

    public private(set) var declarations: [Declaration] = []

    public init() {}

    /// Declares a parameter; returns the entry it will have in the store.
    public mutating func declare(_ name: String, rows: Int, columns: Int, _ initializer: Initializer) -> ParameterStore.Entry {
        let offset = declarations.reduce(0) { $0 + $1.rows * $1.columns }
        declarations.append(Declaration(name: name, rows: rows, columns: columns, initializer: initializer))
        return ParameterStore.Entry(name: name, rows: rows, columns: columns, offset: offset)
    }

    /// Initial values of every parameter, drawn in declaration order from one generator seeded by `seed`
    /// (zeros draw nothing).
    public func initialValues(seed: UInt64) -> [String: [Float]] {
        var random = HostRandom(seed: seed)
        var values: [String: [Float]] = [:]
        for declaration in declarations {
            let count = declaration.rows * declaration.columns
            switch declaration.initializer {
            case let .uniform(bound): values[declaration.name] = (0 ..< count).map { _ in random.uniform(-bound, bound) }
            case .zeros: values[declaration.name] = [Float](repeating: 0, count: count)
            }
        }
        return values
    }
}
