import Foundation
import Testing
import OpenCLKit
import StepLabKernels

/// Upload, launch, download against the real device; shares one context, so runs serially.
@Suite(.serialized) struct KernelLaunchTests {
    let context = TestContext.shared

    func elementwise() throws -> Program {
        try context.program(source: KernelLibrary.source("elementwise.cl"), name: "elementwise.cl")
    }

    @Test(arguments: [1, 3, 1000, 1 << 20])
    func axpyRoundTripIsExact(count: Int) throws {
        // Small integers and halves are exact in float32, so the device must reproduce them bit for bit.
        let x = (0..<count).map { Float($0 % 1024) }
        let y = (0..<count).map { Float(($0 * 7) % 512) * 0.5 }
        let xBuffer = try context.buffer(x)
        let yBuffer = try context.buffer(y)
        let kernel = try elementwise().kernel("axpy_f32")
        try context.queue.launch(kernel, global: [count], arguments: [Float(2), xBuffer, Int32(0), yBuffer, Int32(0)])
        let result = try yBuffer.download()
        #expect(result == zip(x, y).map { 2 * $0 + $1 })
    }

    /// A launch at an offset counts get_global_id from it: it writes its range and nothing else.
    @Test func aLaunchAtAnOffsetWritesOnlyItsRange() throws {
        let y = try context.buffer([Float](repeating: 1, count: 100))
        let kernel = try elementwise().kernel("fill_f32")
        try context.queue.launch(kernel, global: [7], offset: [90], arguments: [y, Int32(0), Float(-3)])
        try context.queue.launch(kernel, global: [64], offset: [3], arguments: [y, Int32(0), Float(2)])
        let expected = (0 ..< 100).map { i -> Float in (90 ..< 97).contains(i) ? -3 : (3 ..< 67).contains(i) ? 2 : 1 }
        #expect(try y.download() == expected)
        #expect(throws: OpenCLError.self) { try context.queue.launch(kernel, global: [7], offset: [1, 2], arguments: [y, Int32(0), Float(0)]) }
    }

    @Test func fillCopyAndPartialTransfers() throws {
        let buffer = try context.buffer(Float.self, count: 17)
        try buffer.fill(1.5)
        try buffer.fill(-2, offset: 5, length: 3)
        var expected = [Float](repeating: 1.5, count: 17)
        expected[5..<8] = [-2, -2, -2]
        #expect(try buffer.download() == expected)
        let copy = try context.buffer(Float.self, count: 17)
        try copy.fill(0)
        try copy.copy(from: buffer, sourceOffset: 4, offset: 10, length: 5)
        #expect(try copy.download(offset: 10, length: 5) == Array(expected[4..<9]))
        #expect(try copy.download(offset: 0, length: 10) == [Float](repeating: 0, count: 10))

        let ints = try context.buffer([Int32(-3), 7, Int32.max])
        #expect(try ints.download() == [-3, 7, Int32.max])
        let words = try context.buffer(UInt32.self, count: 4)
        try words.fill(0xDEAD_BEEF)
        #expect(try words.download() == [UInt32](repeating: 0xDEAD_BEEF, count: 4))
    }

    @Test func transfersOutsideTheBufferAreRefused() throws {
        let buffer = try context.buffer(Float.self, count: 8)
        #expect(throws: OpenCLError.self) { try buffer.upload([Float](repeating: 0, count: 9)) }
        #expect(throws: OpenCLError.self) { try buffer.download(offset: 4, length: 5) }
        #expect(throws: OpenCLError.self) { try buffer.fill(0, offset: -1, length: 2) }
        #expect(throws: OpenCLError.self) { try context.buffer(Float.self, count: 0) }
    }

    @Test func brokenSourceThrowsWithTheCompilerDiagnostic() throws {
        let source = "__kernel void broken(__global float *y) { y[0] = undeclared_identifier_42; }"
        let error = #expect(throws: OpenCLError.self) {
            try context.program(source: source, name: "broken.cl")
        }
        let message = error?.description ?? ""
        #expect(message.contains("broken.cl"))
        #expect(message.contains("undeclared_identifier_42"))
    }

    @Test func programsAreCachedBySourceAndOptions() throws {
        let source = "__kernel void k(__global float *y) { y[get_global_id(0)] = VALUE; }"
        let a = try context.program(source: source, options: "-D VALUE=1.0f")
        let b = try context.program(source: source, options: "-D VALUE=1.0f")
        let c = try context.program(source: source, options: "-D VALUE=2.0f")
        #expect(a === b)
        #expect(a !== c)
        let out = try context.buffer(Float.self, count: 3)
        try context.queue.launch(c.kernel("k"), global: [3], arguments: [out])
        #expect(try out.download() == [2, 2, 2])
    }

    @Test func localSizeAboveTheDeviceLimitIsRefusedBeforeEnqueue() throws {
        let kernel = try elementwise().kernel("fill_f32")
        let out = try context.buffer(Float.self, count: 4)
        try out.fill(7)
        let tooBig = context.device.info.maxWorkGroupSize * 2
        let error = #expect(throws: OpenCLError.self) {
            try context.queue.launch(kernel, global: [tooBig], local: [tooBig], arguments: [out, Int32(0), Float(1)])
        }
        #expect(error?.description.contains("exceeds the device limit") == true)
        // Nothing ran: the buffer still holds what it held.
        #expect(try out.download() == [7, 7, 7, 7])
        #expect(throws: OpenCLError.self) {
            try context.queue.launch(kernel, global: [4], arguments: [out, Float(1)])
        }
    }

    @Test func profilingEventsReportDeviceTime() throws {
        let timed = try Context(device: context.device, profiling: true)
        let program = try timed.program(source: KernelLibrary.source("elementwise.cl"))
        let out = try timed.buffer(Float.self, count: 1 << 16)
        let event = try timed.queue.launch(program.kernel("fill_f32"), global: [1 << 16],
                                           arguments: [out, Int32(0), Float(3)], timed: true)
        let seconds = try #require(event).duration()
        #expect(seconds > 0 && seconds < 10)
    }

    @Test func repeatedCreateAndReleaseDoesNotLeak() throws {
        func residentKiB() -> Int {
            let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        func cycle() throws {
            let local = try Context(device: context.device)
            let program = try local.program(source: KernelLibrary.source("elementwise.cl"))
            let buffer = try local.buffer(Float.self, count: 1 << 18)  // 1 MiB
            try local.queue.launch(program.kernel("fill_f32"), global: [1 << 18], arguments: [buffer, Int32(0), Float(1)])
            try local.queue.finish()
        }
        for _ in 0..<5 { try cycle() }
        let before = residentKiB()
        for _ in 0..<40 { try cycle() }
        let grown = residentKiB() - before
        // 40 cycles of a 1 MiB buffer plus a context and a program: a leak would add 40+ MiB.
        #expect(grown < 20_000, "resident memory grew by \(grown) KiB over 40 create/release cycles")
    }
}

@Suite struct DeviceMemoryTests {
    @Test func buffersAreCountedWhileAliveAndAtPeak() throws {
        let context = try Context()  // its own, so other suites' buffers do not count
        let before = context.memory.liveBytes
        context.memory.resetPeak()
        do {
            let a = try context.buffer(Float.self, count: 1000)
            let b = try context.buffer(Int32.self, count: 24)
            #expect(context.memory.liveBytes == before + 4000 + 96)
            _ = (a, b)
        }
        #expect(context.memory.liveBytes == before)
        #expect(context.memory.peakBytes == before + 4096)
        context.memory.resetPeak()
        #expect(context.memory.peakBytes == before)
    }
}
