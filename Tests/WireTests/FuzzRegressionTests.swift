import Foundation
import Testing
import Wire

/// Inputs the fuzzer found (and hand-made edge cases), replayed on every test run.
/// Add a crash file from `Fuzz/crashes/` to `FuzzRegressions/` once it is fixed.
@Suite struct FuzzRegressionTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FuzzRegressions")

    static var inputs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    @Test("a stored fuzz input runs through the fuzz target without crashing", arguments: Self.inputs)
    func replay(name: String) throws {
        let bytes = try Data(contentsOf: Self.directory.appendingPathComponent(name))
        bytes.withUnsafeBytes { FuzzTargets.run($0) }
    }

    @Test func corpusIsPresent() {
        #expect(Self.inputs.count >= 3)
    }
}
