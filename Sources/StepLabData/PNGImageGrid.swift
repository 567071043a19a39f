extension PNGImage {
    /// Grey-scale square images (rows of `images`, pixels in [-1, 1], clamped) tiled `columns` to a row with a
    /// `gap`-pixel white border, each pixel drawn as a `scale x scale` block.
    public static func grid(images: PointSet, side: Int, columns: Int = 10, gap: Int = 2, scale: Int = 2) -> PNGImage {
        precondition(side * side == images.dimension && columns > 0 && scale > 0, "grid: \(images.dimension) pixels are not \(side)x\(side)")
        let rows = Swift.max(1, (images.count + columns - 1) / columns)
        let cell = side * scale + gap
        var image = PNGImage(width: columns * cell + gap, height: rows * cell + gap)
        for n in 0 ..< images.count {
            let (left, top) = (gap + (n % columns) * cell, gap + (n / columns) * cell)
            let pixels = images[point: n]
            for y in 0 ..< side * scale {
                for x in 0 ..< side * scale {
                    let value = pixels[pixels.startIndex + (y / scale) * side + x / scale]
                    let grey = UInt8((Swift.min(Swift.max(value.isFinite ? value : -1, -1), 1) + 1) * 127.5)
                    let i = 3 * ((top + y) * image.width + left + x)
                    image.pixels[i] = grey; image.pixels[i + 1] = grey; image.pixels[i + 2] = grey
                }
            }
        }
        return image
    }
}
