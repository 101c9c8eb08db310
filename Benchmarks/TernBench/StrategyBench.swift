import Controller
import Foundation
import Platform
import Wire

/// `tern-bench fleet … --strategy FILE`: the same sites, after a plain delivery of
/// another object of the same size (the baseline, `--deliver`), get FILE as a
/// firmware image through a parallel strategy. Prints the strategy's time against
/// the baseline's, the controller's CPU per step and its memory.
enum StrategyBench {
    static func run(_ file: String, store: SQLiteFleetStore, data: String, count: Int, maxParallel: Int, controllerPID: Int32?) async throws {
        for index in 0..<count {
            _ = try await store.setManagement(String(format: "bench-%05d", index), to: .managed, at: Date())
        }
        let address = try String(contentsOfFile: data + "/api-address", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let token = try String(contentsOfFile: data + "/api-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let (host, port) = try HostPort.parse(address.replacingOccurrences(of: "http://", with: ""))
        let client = APIClient(host: host, port: port, token: token)
        _ = try await client.send(.POST, "/v1/firmware", body: try JSONSerialization.data(withJSONObject: ["path": file, "component": "bench-fw", "version": "2.0"]))
        let request = Strategies.Request(
            type: .firmware, what: "bench-fw", version: "2.0", generation: nil, targets: TargetSelection(all: true),
            settings: StrategySettings(applyType: .parallel, maxParallel: maxParallel, stepTimeout: 600)
        )
        _ = try await client.send(.POST, "/v1/strategies", body: try JSONEncoder().encode(request))
        let cpuBefore = FleetBench.cpuSeconds(controllerPID)
        let start = ContinuousClock.now
        _ = try await client.send(.POST, "/v1/strategies/firmware/apply")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var view: StrategyView
        repeat {
            try await Task.sleep(for: .milliseconds(200))
            view = try decoder.decode(StrategyView.self, from: try await client.send(.GET, "/v1/strategies/firmware"))
        } while !view.strategy.state.isFinished && ContinuousClock.now - start < .seconds(1800)
        let elapsed = ContinuousClock.now - start
        let cpu = (FleetBench.cpuSeconds(controllerPID) ?? 0) - (cpuBefore ?? 0)
        print("strategy \(view.strategy.state.rawValue) over \(count) sites (parallel, max-parallel \(maxParallel)) in \(elapsed): \(view.strategy.detail)")
        print(String(format: "STRATEGY seconds=%.2f cpu=%.2f cpu_per_step_ms=%.2f", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, cpu, cpu * 1000 / Double(max(count, 1))))
        if let controllerPID, let status = try? String(contentsOfFile: "/proc/\(controllerPID)/status", encoding: .utf8) {
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS") || line.hasPrefix("VmHWM") { print("CONTROLLER_" + line.replacingOccurrences(of: "\t", with: " ")) }
        }
    }
}
