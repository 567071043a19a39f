import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

/// Philox-4x32-10 words: known answers from Random123's `kat_vectors`, and device words equal to the host's.
@Suite struct PhiloxTests {
    struct KnownAnswer: Sendable, CustomTestStringConvertible {
        let counter: SIMD4<UInt32>
        let key: SIMD2<UInt32>
        let words: SIMD4<UInt32>
        var testDescription: String { "counter \(counter), key \(key)" }
    }

    static let knownAnswers = [
        KnownAnswer(counter: SIMD4(0, 0, 0, 0), key: SIMD2(0, 0),
                    words: SIMD4(0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8)),
        KnownAnswer(counter: SIMD4(repeating: 0xffff_ffff), key: SIMD2(repeating: 0xffff_ffff),
                    words: SIMD4(0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd)),
        // Counter and key from the hexadecimal digits of pi.
        KnownAnswer(counter: SIMD4(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: SIMD2(0xa409_3822, 0x299f_31d0),
                    words: SIMD4(0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1)),
    ]

    @Test(arguments: knownAnswers)
    func referenceMatchesRandom123(answer: KnownAnswer) {
        #expect(Reference.philox4x32_10(counter: answer.counter, key: answer.key) == answer.words)
    }

    @Test(arguments: knownAnswers)
    func deviceMatchesRandom123(answer: KnownAnswer) throws {
        try SharedEngine.withEngine { engine in
            let buffer = try engine.context.buffer(UInt32.self, count: 4)
            try engine.randomBits(into: buffer, count: 4, counter: answer.counter, key: answer.key)
            let w = try buffer.download()
            #expect(SIMD4(w[0], w[1], w[2], w[3]) == answer.words)
        }
    }

    /// Bit-identical words for every size, at an offset, with a counter whose words are all in use.
    @Test(arguments: ElementwiseTests.sizes)
    func deviceWordsEqualReference(count: Int) throws {
        let key = RandomKey(seed: 0x0123_4567_89ab_cdef, stream: 7, counter: 0xffff_fffe_0000_0003)
        try SharedEngine.withEngine { engine in
            let buffer = try engine.context.buffer(UInt32.self, count: count + 10)
            try buffer.upload([UInt32](repeating: 0xdead_beef, count: count + 10))
            try engine.randomBits(into: buffer, offset: 5, count: count, key: key)
            let words = try buffer.download()
            #expect(Array(words[5 ..< 5 + count]) == Reference.randomBits(count: count, key: key))
            // Neighbours outside the view keep their sentinel.
            #expect(Array(words[0 ..< 5]) + Array(words[(5 + count)...]) == [UInt32](repeating: 0xdead_beef, count: 10))
        }
    }

    /// The first counter word is the block index and wraps without touching the other words.
    @Test func blockIndexWrapsInTheFirstWord() {
        let start = SIMD4<UInt32>(0xffff_ffff, 1, 2, 3), key = SIMD2<UInt32>(4, 5)
        let words = Reference.randomBits(count: 8, counter: start, key: key)
        let second = Reference.philox4x32_10(counter: SIMD4(0, 1, 2, 3), key: key)
        #expect(Array(words[4...]) == [second.x, second.y, second.z, second.w])
    }

    @Test func keyLayoutIsDocumented() {
        let key = RandomKey(seed: 0x1111_2222_3333_4444, stream: 9, counter: 0x5555_6666_7777_8888)
        #expect(key.philoxKey == SIMD2(0x3333_4444, 0x1111_2222))
        #expect(key.philoxCounter == SIMD4(0, 0x7777_8888, 0x5555_6666, 9))
    }

    @Test func refusesAViewOutsideTheBuffer() throws {
        try SharedEngine.withEngine { engine in
            let buffer = try engine.context.buffer(UInt32.self, count: 8)
            #expect(throws: OpenCLError.self) { try engine.randomBits(into: buffer, offset: 5, count: 4, key: RandomKey(seed: 1)) }
        }
    }
}
