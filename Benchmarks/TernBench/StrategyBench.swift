import Controller
import Foundation
import Platform
import Wire

/// `tern-bench fleet … --strategy FILE`: the same sites, after a plain delivery of
/// another object of the same size (the baseline, `--deliver`), get FILE as the
/// layer of a container image through a parallel `images` strategy. Prints the
/// strategy's time against the baseline's, the controller's CPU per step and its
/// memory. (An image, not firmware: firmware runs a command per site, and
/// Foundation's `Process` cannot spawn from a process holding 1,000 agents' file
/// descriptors; real agents are one per host.)
enum StrategyBench {
    static func run(_ file: String, baseline: String?, store: SQLFleetStore, data: String, count: Int, maxParallel: Int, controllerPID: Int32?) async throws {
        for index in 0..<count {
            _ = try await store.setManagement(String(format: "bench-%05d", index), to: .managed, at: Date())
        }
        let address = try String(contentsOfFile: data + "/api-address", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let token = try String(contentsOfFile: data + "/api-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let (host, port) = try HostPort.parse(address.replacingOccurrences(of: "http://", with: ""))
        let client = APIClient(host: host, port: port, token: token)
        if let baseline {
            // The baseline: another image of the same size deployed to every site at once,
            // through the same content plane, without a strategy.
            let layout = try Self.image(layer: baseline, in: data + "/../baseline-image")
            _ = try await client.send(.POST, "/v1/images", body: try JSONSerialization.data(withJSONObject: ["reference": "oci:\(layout):1", "name": "baseline"]))
            let cpuBefore = FleetBench.cpuSeconds(controllerPID)
            let start = ContinuousClock.now
            _ = try await client.send(.POST, "/v1/deployments", body: try JSONSerialization.data(withJSONObject: [
                "kind": "image", "name": "baseline:1", "targets": ["all": true],
            ] as [String: Any]))
            let version = try await store.release(kind: .image, name: "baseline:1", version: nil)?.version ?? ""
            while try await store.installedVersions(kind: .image, name: "baseline:1").values.filter({ $0 == version }).count < count,
                  ContinuousClock.now - start < .seconds(1800) {
                try await Task.sleep(for: .milliseconds(100))
            }
            let elapsed = ContinuousClock.now - start
            print(String(format: "BASELINE seconds=%.2f cpu=%.2f", Self.seconds(elapsed), (FleetBench.cpuSeconds(controllerPID) ?? 0) - (cpuBefore ?? 0)))
        }
        let layout = try Self.image(layer: file, in: data + "/../bench-image")
        _ = try await client.send(.POST, "/v1/images", body: try JSONSerialization.data(withJSONObject: ["reference": "oci:\(layout):1", "name": "bench"]))
        let request = Strategies.Request(
            type: .images, what: "bench:1", version: nil, generation: nil, targets: TargetSelection(all: true),
            settings: StrategySettings(applyType: .parallel, maxParallel: maxParallel, stepTimeout: 600)
        )
        _ = try await client.send(.POST, "/v1/strategies", body: try JSONEncoder().encode(request))
        let cpuBefore = FleetBench.cpuSeconds(controllerPID)
        let start = ContinuousClock.now
        _ = try await client.send(.POST, "/v1/strategies/images/apply")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var view: StrategyView
        repeat {
            try await Task.sleep(for: .milliseconds(200))
            view = try decoder.decode(StrategyView.self, from: try await client.send(.GET, "/v1/strategies/images"))
        } while !view.strategy.state.isFinished && ContinuousClock.now - start < .seconds(1800)
        let elapsed = ContinuousClock.now - start
        let cpu = (FleetBench.cpuSeconds(controllerPID) ?? 0) - (cpuBefore ?? 0)
        print("strategy \(view.strategy.state.rawValue) over \(count) sites (parallel, max-parallel \(maxParallel)) in \(elapsed): \(view.strategy.detail)")
        print(String(format: "STRATEGY seconds=%.2f cpu=%.2f cpu_per_step_ms=%.2f", Self.seconds(elapsed), cpu, cpu * 1000 / Double(max(count, 1))))
        if let controllerPID, let status = try? String(contentsOfFile: "/proc/\(controllerPID)/status", encoding: .utf8) {
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS") || line.hasPrefix("VmHWM") { print("CONTROLLER_" + line.replacingOccurrences(of: "\t", with: " ")) }
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// An OCI layout with one image, tag `1`: a config and FILE as its one layer.
    static func image(layer file: String, in root: String) throws -> String {
        let layout = OCILayout(root: root)
        try layout.create()
        let layer = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        let config = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
        func put(_ bytes: [UInt8]) throws -> String {
            let digest = "sha256:" + ContentDigest(of: bytes).hex
            try Data(bytes).write(to: URL(fileURLWithPath: layout.blobPath(digest)))
            return digest
        }
        let manifest = Array("""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(try put(config))","size":\(config.count)},\
            "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\(try put(layer))","size":\(layer.count)}]}
            """.utf8)
        let digest = try put(manifest)
        try layout.tag("1", manifest: OCILayout.Descriptor(mediaType: "application/vnd.oci.image.manifest.v1+json", digest: digest, size: UInt64(manifest.count)))
        return root
    }
}
