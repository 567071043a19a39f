import OpenCLKit

/// The shape of a 2-D convolution over NHWC activations (`Kernels/conv.cl`): a K x K kernel with stride S and zero
/// padding K / 2, so a stride-1 convolution keeps the image size and a stride-2 one halves it (rounding up).
public struct ConvolutionGeometry: Sendable, Equatable, CustomStringConvertible {
    public let height: Int
    public let width: Int
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernel: Int
    public let stride: Int

    public init(height: Int, width: Int, inputChannels: Int, outputChannels: Int, kernel: Int = 3, stride: Int = 1) {
        self.height = height; self.width = width; self.inputChannels = inputChannels; self.outputChannels = outputChannels
        self.kernel = kernel; self.stride = stride
    }

    public var padding: Int { kernel / 2 }
    public var outputHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outputWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Columns of the im2col matrix and rows of the weight: K * K * Cin, ordered (kh, kw, cin).
    public var patchSize: Int { kernel * kernel * inputChannels }
    /// Whether the convolution is a plain product of the activations with the weight (1x1, stride 1).
    public var isPointwise: Bool { kernel == 1 && stride == 1 }
    /// Multiply-adds times two for `samples` images.
    public func flops(samples: Int) -> Double { 2 * Double(samples * outputHeight * outputWidth) * Double(patchSize * outputChannels) }

    public var description: String {
        "\(kernel)x\(kernel)\(stride > 1 ? "/\(stride)" : "") \(inputChannels)->\(outputChannels) at \(height)x\(width)"
    }

    /// Throws unless the sizes are positive and the kernel is 1 or 3 (col2im's tap list holds 9).
    public func validate() throws(OpenCLError) {
        guard height > 0, width > 0, inputChannels > 0, outputChannels > 0, stride > 0, kernel == 1 || kernel == 3 else {
            throw .invalidRequest("convolution \(self): sizes must be positive and the kernel 1 or 3")
        }
    }
}
