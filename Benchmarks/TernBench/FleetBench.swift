import Agent
import Controller
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Platform
import ServiceLifecycle
import Wire

/// `tern-bench fleet`: registers N subclouds in a running controller's data directory
/// and runs N real agent links in this process against it, until they are all
/// connected; then holds them for the caller to measure the controller.
/// (The idle-agent baseline is `tern-idle-baseline`, a program of its own that links
/// NIO and NIOSSL only.)
enum FleetBench {
    static func run(arguments: [String]) async throws {
        func value(_ flag: String) -> String? {
            guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
            return arguments[index + 1]
        }
        let data = value("--data") ?? "/tmp/tern-bench-controller"
        let count = Int(value("--agents") ?? "") ?? 1000
        let hold = Int(value("--hold") ?? "") ?? 30
        let work = value("--work") ?? FileManager.default.temporaryDirectory.appendingPathComponent("tern-bench-fleet").path
        let wire = try HostPort.parse(value("--controller") ?? "127.0.0.1:7447")
        // Names start at --offset, so several bench processes can share one controller
        // (one process keeps its descriptors below 1,024: Foundation's Process needs that
        // to spawn tar for backups).
        let offset = Int(value("--offset") ?? "") ?? 0
        // With --backup-mib M each agent backs up a folder of M MiB: half of it the same
        // bytes on every site (a shared file), half its own.
        let backupMiB = Int(value("--backup-mib") ?? "")

        let pki = try ControllerPKI.loadOrCreate(dataDirectory: data, serverNames: ["localhost"])
        let store = try SQLFleetStore(path: data + "/fleet.sqlite")
        var links: [any Service] = []
        var logger = Logger(label: "bench.agent")
        logger.logLevel = .critical
        let statuses = (0..<count).map { _ in LinkStatus() }
        for index in offset..<(offset + count) {
            let name = String(format: "bench-%05d", index)
            let state = work + "/" + name
            if (try await store.subcloud(named: name)) == nil {
                let (_, record) = BootstrapToken.make(validFor: 3600)
                _ = try await store.createSubcloud(name: name, group: SubcloudGroup.defaultName, description: "tern-bench", token: record, at: Date())
                _ = try await store.consumeToken(hash: record.hash, at: Date())
            }
            let certificate = try pki.provisionAgent(name: name, stateDirectory: state, controller: "\(wire.host):\(wire.port)")
            try await store.recordCertificate(for: name, serial: certificate.serialHex, notAfter: certificate.notValidAfter, enrolment: true, at: Date())
            var configuration = AgentConfiguration(stateDirectory: state, controllerHost: wire.host, controllerPort: wire.port)
            configuration.useFwupd = false
            configuration.reconnectBase = .seconds(1)
            configuration.reconnectCap = .seconds(10)
            if let backupMiB {
                let folder = state + "/data"
                try BackupBench.makeSiteData(folder, mib: backupMiB, site: index)
                configuration.backupPaths = [folder]
            }
            links.append(ControllerLink(configuration: configuration, status: statuses[index - offset], logger: logger))
        }
        print("provisioned \(count) agents")
        fflush(nil)
        let group = ServiceGroup(configuration: .init(services: links.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let start = ContinuousClock.now
            while true {
                var connected = 0
                for status in statuses where await status.isConnected { connected += 1 }
                if connected == count { break }
                if ContinuousClock.now - start > .seconds(120) {
                    print("only \(connected) of \(count) connected after 120 s")
                    break
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            print("connected \(count) agents in \(ContinuousClock.now - start)")
            let controllerPID = value("--controller-pid").flatMap { Int32($0) }
            if let file = value("--deliver") {
                try await Self.deliver(file, data: data, work: work, count: count, controllerPID: controllerPID)
            }
            if let file = value("--strategy") {
                try await StrategyBench.run(
                    file, baseline: value("--baseline-image"), store: store, data: data, count: count, maxParallel: Int(value("--max-parallel") ?? "") ?? 100, controllerPID: controllerPID
                )
            }
            print("READY")
            fflush(nil)
            try await Task.sleep(for: .seconds(hold))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// CPU seconds (user + system) the process has used, from /proc.
    static func cpuSeconds(_ pid: Int32?) -> Double? {
        guard let pid, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Imports `file` through the API, delivers it to every bench agent and waits until
    /// each holds it. With the controller's pid, prints its CPU for the import and for
    /// the delivery apart, so a fan-out figure never mixes the two.
    static func deliver(_ file: String, data: String, work: String, count: Int, controllerPID: Int32?) async throws {
        let address = try String(contentsOfFile: data + "/api-address", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let token = try String(contentsOfFile: data + "/api-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let (host, port) = try HostPort.parse(address.replacingOccurrences(of: "http://", with: ""))
        let client = APIClient(host: host, port: port, token: token)
        let beforeImport = Self.cpuSeconds(controllerPID)
        let imported = try JSONSerialization.jsonObject(with: try await client.send(.POST, "/v1/objects", body: try JSONSerialization.data(withJSONObject: ["path": file]))) as! [String: Any]
        let digest = imported["digest"] as! String
        let afterImport = Self.cpuSeconds(controllerPID)
        let start = ContinuousClock.now
        for index in 0..<count {
            let body = try JSONSerialization.data(withJSONObject: ["digest": digest, "kind": "firmware", "name": "bench-object"])
            for attempt in 1...3 {
                do {
                    _ = try await client.send(.POST, "/v1/subclouds/" + String(format: "bench-%05d", index) + "/content", body: body)
                    break
                } catch {
                    print("deliver to agent \(index), attempt \(attempt): \(error)")
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        while true {
            let done = (0..<count).filter { FileManager.default.fileExists(atPath: work + "/" + String(format: "bench-%05d", $0) + "/transfers/objects/" + digest) }.count
            if done == count { break }
            if ContinuousClock.now - start > .seconds(600) {
                print("only \(done) of \(count) agents hold the object after 600 s")
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        print("delivered \(digest.prefix(12)) to \(count) agents in \(ContinuousClock.now - start)")
        if let beforeImport, let afterImport, let afterDelivery = Self.cpuSeconds(controllerPID) {
            print(String(format: "CONTROLLER_CPU import=%.2f delivery=%.2f", afterImport - beforeImport, afterDelivery - afterImport))
        }
    }
}
