import Foundation
import OpenCLKit
import StepLabTestSupport
import Testing
@testable import StepLabEngine

@Suite struct TuningDatabaseTests {
    @Test func theEmbeddedDatabaseParsesAndEntriesMatchByNamePlatformAndDriver() throws {
        let database = try TuningDatabase.embedded()
        #expect(database.format == "steplab-tuning-1")
        try SharedEngine.withEngine { engine in
            let info = engine.device
            let tuned = MatmulTuning(variant: .cpu, mr: 6, splitKChunk: 1024)
            let entry = TuningDatabase.Entry(device: info, matmul: tuned, gflops: 2, defaultGflops: 1, date: "d")
            let recorded = TuningDatabase().recording(entry)
            #expect(recorded.tuning(for: info) == tuned)
            var otherDriver = info
            otherDriver.driverVersion += "-other"
            #expect(recorded.tuning(for: otherDriver) == nil)
            // Recording the same device again replaces its entry; the file round-trips.
            let again = recorded.recording(TuningDatabase.Entry(device: info, matmul: MatmulTuning(variant: .cpu), gflops: 3,
                                                                defaultGflops: 1, date: "e"))
            #expect(again.devices.count == 1 && again.tuning(for: info) == MatmulTuning(variant: .cpu))
            let file: Data = try again.encoded()
            let decoded: TuningDatabase = try TuningDatabase.decode(file, source: "x")
            #expect(decoded == again)
        }
    }

    @Test func anEntryWrittenBeforeATunableExistedTakesItsDefault() throws {
        let old = try JSONDecoder().decode(MatmulTuning.self, from: Data(#"{"variant": "cpu", "mr": 6, "splitKChunk": 1024}"#.utf8))
        #expect(old == MatmulTuning(variant: .cpu, mr: 6, splitKChunk: 1024))
        #expect(old.bandKilobytes == MatmulTuning(variant: .cpu).bandKilobytes)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(MatmulTuning.self, from: Data(#"{"mr": 6}"#.utf8)) }
    }

    @Test func aBrokenDatabaseIsOneClearError() {
        for text in ["{", #"{"format":"other","devices":[]}"#] {
            do {
                _ = try TuningDatabase.decode(Data(text.utf8), source: "tuning.json")
                Issue.record("expected an error for \(text)")
            } catch {
                #expect(error.description.contains("tuning.json is not a StepLab tuning database"), "\(error)")
            }
        }
    }
}
