import OpenCLKit

/// A DiT's patches (Peebles & Xie 2023; ViT's patchify, Dosovitskiy et al. 2021): `split` cuts each image into token
/// rows and `join` puts token rows back into images (`PatchGeometry`, `Engine.splitPatches`). No parameters; each
/// direction's backward is the other, and its tangent the same cut on the tangent.
public final class Patchify {
    public let geometry: PatchGeometry

    public init(geometry: PatchGeometry) { self.geometry = geometry }

    /// `(N T) x P P C` token rows of `images`, N rows whose first H W C values are an image (a network input).
    public func split(_ images: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        let tokens = try tape.allocate(rows: images.rows * geometry.tokens, columns: geometry.tokenSize)
        try tape.engine.splitPatches(images, geometry: geometry, into: tokens)
        try tape.record(Cut(geometry: geometry, input: images, splits: true), inputs: [images], output: tokens, parameterized: false)
        return tokens
    }

    /// `N x H W C` images from their `(N T) x P P C` token rows.
    public func join(_ tokens: Tensor, tape: Tape) throws(OpenCLError) -> Tensor {
        let images = try tape.allocate(rows: tokens.rows / geometry.tokens, columns: geometry.imageSize)
        try tape.engine.joinPatches(tokens, geometry: geometry, into: images)
        try tape.record(Cut(geometry: geometry, input: tokens, splits: false), inputs: [tokens], output: images, parameterized: false)
        return images
    }

    /// The recorded cut, either way.
    struct Cut: TapeOp {
        let geometry: PatchGeometry
        let input: Tensor
        /// Images to tokens (else tokens to images).
        let splits: Bool

        /// The other direction on the gradient; a split's input gradient covers the image columns (N x H W C).
        func backward(_ dy: Tensor, pass: BackwardPass) throws(OpenCLError) {
            let engine = pass.engine
            if splits {
                let sink = try pass.sink(for: input, rows: input.rows, columns: geometry.imageSize)
                guard let dx = sink.tensor else { return }
                try engine.joinPatches(dy, geometry: geometry, accumulate: sink.accumulates, into: dx)
                try sink.finish(engine: engine)
            } else {
                let sink = try pass.sink(for: input)
                guard let dx = sink.tensor else { return }
                if sink.accumulates {
                    let cut = try pass.tape.allocate(rows: dx.rows, columns: dx.columns)
                    try engine.splitPatches(dy, geometry: geometry, into: cut)
                    try engine.axpy(1, cut, dx)
                } else {
                    try engine.splitPatches(dy, geometry: geometry, into: dx)
                }
                try sink.finish(engine: engine)
            }
        }

        /// The same cut on the tangent.
        func tangent(_ tape: Tape) throws(OpenCLError) -> Tensor? {
            guard let dx = tape.tangent(of: input) else { return nil }
            if splits {
                let tokens = try tape.allocate(rows: input.rows * geometry.tokens, columns: geometry.tokenSize)
                try tape.engine.splitPatches(dx, geometry: geometry, into: tokens)
                return tokens
            }
            let images = try tape.allocate(rows: input.rows / geometry.tokens, columns: geometry.imageSize)
            try tape.engine.joinPatches(dx, geometry: geometry, into: images)
            return images
        }
    }
}
