import Foundation
import NIOCore
import NIOPosix
import Wire

/// `tern-bench`: prints the figures BENCHMARKS.md records. Every ratio compares
/// two measurements taken in this same run, so machine noise cancels out.
///
///     swift run -c release tern-bench [--size-mib N] [--repeat N] [--only codec|goodput]
///     tern-bench fleet --data DIR --controller HOST:PORT --agents N   (scripts/bench-fleet.sh drives it)
///     tern-bench idle-tls --state DIR --controller HOST:PORT          (the idle-agent baseline)
@main
struct TernBench {
    static func main() async throws {
        let arguments = CommandLine.arguments
        if arguments.count > 1, arguments[1] == "fleet" { return try await FleetBench.run(arguments: arguments) }
        if arguments.count > 1, arguments[1] == "idle-tls" { return try await FleetBench.idleTLS(arguments: arguments) }
        func value(_ flag: String) -> String? {
            guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
            return arguments[index + 1]
        }
        let sizeMiB = Int(value("--size-mib") ?? "") ?? 512
        let repeats = Int(value("--repeat") ?? "") ?? 3
        let only = value("--only")

        print("tern-bench  \(Date())  cores=\(ProcessInfo.processInfo.activeProcessorCount)")
        if only == nil || only == "codec" {
            CodecBench.run()
        }
        if only == nil || only == "goodput" {
            try await GoodputBench(size: sizeMiB << 20, repeats: repeats).run()
        }
    }
}

/// Wall time of `body` in seconds.
func measure(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func format(_ value: Double, _ digits: Int = 1) -> String {
    String(format: "%.\(digits)f", value)
}
