extension PNGImage {
    /// Images (rows of `images` in `shape`'s NHWC order, values in [-1, 1], clamped; grey or RGB) tiled `columns`
    /// to a row with a `gap`-pixel white border, each pixel drawn as a `scale x scale` block.
    public static func grid(images: PointSet, shape: ImageShape, columns: Int = 10, gap: Int = 2, scale: Int = 2) -> PNGImage {
        precondition(shape.pixels == images.dimension && [1, 3].contains(shape.channels) && columns > 0 && scale > 0,
                     "grid: \(images.dimension) values are not images of \(shape)")
        let rows = Swift.max(1, (images.count + columns - 1) / columns)
        let (cellWidth, cellHeight) = (shape.width * scale + gap, shape.height * scale + gap)
        var image = PNGImage(width: columns * cellWidth + gap, height: rows * cellHeight + gap)
        for n in 0 ..< images.count {
            let (left, top) = (gap + (n % columns) * cellWidth, gap + (n / columns) * cellHeight)
            let pixels = images[point: n]
            for y in 0 ..< shape.height * scale {
                for x in 0 ..< shape.width * scale {
                    let pixel = pixels.startIndex + ((y / scale) * shape.width + x / scale) * shape.channels
                    let i = 3 * ((top + y) * image.width + left + x)
                    for k in 0 ..< 3 {
                        let value = pixels[pixel + (shape.channels == 3 ? k : 0)]
                        image.pixels[i + k] = UInt8((Swift.min(Swift.max(value.isFinite ? value : -1, -1), 1) + 1) * 127.5)
                    }
                }
            }
        }
        return image
    }
}
