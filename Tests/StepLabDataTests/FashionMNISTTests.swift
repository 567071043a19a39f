import Foundation
import Testing
@testable import StepLabData

@Suite struct IDXTests {
    static func idx(_ shape: [Int], _ body: [UInt8], type: UInt8 = 0x08) -> Data {
        var bytes: [UInt8] = [0, 0, type, UInt8(shape.count)]
        for size in shape { bytes += [UInt8(size >> 24), UInt8((size >> 16) & 0xFF), UInt8((size >> 8) & 0xFF), UInt8(size & 0xFF)] }
        return Data(bytes + body)
    }

    @Test func parsesShapeAndBytes() throws {
        let array = try IDXArray.parse(Self.idx([2, 3, 3], Array(0 ..< 18)), name: "x")
        #expect(array.shape == [2, 3, 3])
        #expect(array.bytes == Array(0 ..< 18))
    }

    @Test(arguments: [
        (Data([1, 2, 8, 1, 0, 0, 0, 1, 5]), "bad magic"),
        (IDXTests.idx([4], [1, 2, 3, 4], type: 0x0D), "is not unsigned byte"),
        (Data([0, 0, 8, 3, 0, 0]), "header is truncated"),
        (IDXTests.idx([2, 2], [1, 2, 3]), "needs 4 bytes, the file has 3"),
    ])
    func badFilesAreOneLine(data: Data, phrase: String) {
        #expect(throws: DataError.self) { try IDXArray.parse(data, name: "f.idx") }
        do { _ = try IDXArray.parse(data, name: "f.idx") } catch { #expect(error.description.contains(phrase), "\(error)") }
    }
}

@Suite struct FashionMNISTTests {
    static let installed = FileManager.default.fileExists(atPath: FashionMNIST.directory.appendingPathComponent("t10k-labels-idx1-ubyte.gz").path)

    @Test func aMissingFolderNamesThePackage() {
        do {
            _ = try FashionMNIST.load(.test, from: URL(fileURLWithPath: "/nonexistent-fashion"))
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("apt-get install dataset-fashion-mnist"), "\(error)")
        }
    }

    @Test(.enabled(if: installed, "needs Debian's dataset-fashion-mnist"))
    func theTestSplitHasTenBalancedClassesInMinusOneToOne() throws {
        let test = try FashionMNIST.load(.test)
        #expect(test.images.count == 10000 && test.images.dimension == 784 && test.shape == ImageShape(height: 28, width: 28, channels: 1))
        var counts = [Int](repeating: 0, count: 10)
        for label in test.labels { counts[label] += 1 }
        #expect(counts == Array(repeating: 1000, count: 10))
        #expect(test.images.values.min() == -1 && test.images.values.max() == 1)
        // Clothes on a black background: the corner pixel is background in nearly every image.
        let corners = (0 ..< test.images.count).filter { test.images.values[$0 * 784] == -1 }.count
        #expect(corners > 9900)
    }

    @Test(.enabled(if: installed, "needs Debian's dataset-fashion-mnist"))
    func aTruncatedOrCorruptGzipIsOneLine() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("steplab-fmnist-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let labels = try Data(contentsOf: FashionMNIST.directory.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        let images = try Data(contentsOf: FashionMNIST.directory.appendingPathComponent("t10k-images-idx3-ubyte.gz"))
        try labels.write(to: folder.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        try images.prefix(images.count / 2).write(to: folder.appendingPathComponent("t10k-images-idx3-ubyte.gz"))
        do { _ = try FashionMNIST.load(.test, from: folder); Issue.record("expected an error") } catch {
            #expect(error.description.contains("ends early"), "\(error)")
        }
        var corrupt = images
        for k in stride(from: 100, to: 4000, by: 7) { corrupt[k] ^= 0x5A }
        try corrupt.write(to: folder.appendingPathComponent("t10k-images-idx3-ubyte.gz"))
        do { _ = try FashionMNIST.load(.test, from: folder); Issue.record("expected an error") } catch {
            #expect(error.description.contains("t10k-images-idx3-ubyte.gz"), "\(error)")
        }
    }
}

@Suite struct ImageGridTests {
    @Test func gridTilesImagesWithScaleAndGap() {
        // Two 2x2 images: one all white (+1), one black (-1) with a mid-grey (0) pixel.
        let images = PointSet(count: 2, dimension: 4, values: [1, 1, 1, 1, -1, -1, -1, 0])
        let image = PNGImage.grid(images: images, shape: ImageShape(height: 2, width: 2, channels: 1), columns: 2, gap: 1, scale: 2)
        #expect(image.width == 2 * (2 * 2 + 1) + 1 && image.height == 2 * 2 + 1 + 1)
        func grey(_ x: Int, _ y: Int) -> UInt8 { image.pixels[3 * (y * image.width + x)] }
        #expect(grey(1, 1) == 255 && grey(4, 4) == 255)  // first image, all white
        #expect(grey(6, 1) == 0)                          // second image, top-left
        #expect(grey(8, 3) == 127 && grey(9, 4) == 127)   // its bottom-right pixel, scaled to 2x2
        #expect(grey(0, 0) == 255 && grey(5, 2) == 255)   // the gaps stay white
    }

    /// RGB images keep their channels, and a 1x2 (height x width) image is drawn one row high, two wide.
    @Test func gridDrawsColourAndNonSquareImages() {
        // One 1x2 RGB image: a red pixel, then a pixel of (0, +1, -1) = (127, 255, 0).
        let images = PointSet(count: 1, dimension: 6, values: [1, -1, -1, 0, 1, -1])
        let image = PNGImage.grid(images: images, shape: ImageShape(height: 1, width: 2, channels: 3), columns: 1, gap: 0, scale: 1)
        #expect(image.width == 2 && image.height == 1)
        #expect(Array(image.pixels[0 ..< 6]) == [255, 0, 0, 127, 255, 0])
    }
}
