import Foundation
import NIOCore
import NIOPosix
import Wire

/// `tern-bench`: prints the figures BENCHMARKS.md records. Every ratio compares
/// two measurements taken in this same run, so machine noise cancels out.
///
///     swift run -c release tern-bench [--size-mib N] [--repeat N] [--only codec|goodput]
///     tern-bench fleet --data DIR --controller HOST:PORT --agents N   (scripts/bench-fleet.sh drives it)
@main
struct TernBench {
    static let usage = """
        usage: tern-bench [--size-mib N] [--repeat N] [--only codec|goodput]
               tern-bench fleet --data DIR --controller HOST:PORT --agents N [--hold S] [--work DIR]
                          [--deliver FILE] [--strategy FILE --max-parallel N] [--controller-pid PID]
               tern-bench responsiveness --work DIR [--size-mib N]
                                [--deliver FILE [--controller-pid PID]]
          (no arguments)   wire codec rates and TLS goodput, Tern against raw swift-nio-ssl in the same run
          --size-mib N     goodput object size (default 512)
          --repeat N       goodput runs per variant; the median is reported (default 3)
          --only X         codec or goodput only
          fleet            N in-process agents against a running controller (scripts/bench-fleet.sh,
                           scripts/bench-fanout.sh); --deliver imports FILE and sends it to every agent,
                           --controller-pid reports the controller's CPU for import and delivery apart
        The idle-agent baseline is tern-idle-baseline (NIO and NIOSSL only).
        """

    static func main() async throws {
        let arguments = CommandLine.arguments
        if arguments.contains("--help") || arguments.contains("-h") {
            print(Self.usage)
            return
        }
        if arguments.count > 1, arguments[1] == "fleet" { return try await FleetBench.run(arguments: arguments) }
        if arguments.count > 1, arguments[1] == "responsiveness" { return try await ResponsivenessBench.run(arguments: arguments) }
        let known: Set<String> = ["--size-mib", "--repeat", "--only"]
        for (index, argument) in arguments.enumerated().dropFirst() where argument.hasPrefix("-") && !known.contains(argument) {
            print("unknown option \(argument) (argument \(index))\n\(Self.usage)")
            exit(2)
        }
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
