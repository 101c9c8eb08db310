import Foundation
import TernTestSupport
import Testing

/// Event loops and the cooperative pool stay responsive under bulk file work. The
/// measurement runs in a process of its own (`tern-bench responsiveness`): in this
/// test process other tests share the cooperative pool and would be measured too.
@Suite struct ResponsivenessTests {
    @Test("event loops and the cooperative pool stay responsive while 1 GiB is imported twice and 1 GiB is received")
    func responsiveUnderBulkFileWork() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let result = try await run(
            ChildProcess.productsDirectory + "/tern-bench", ["responsiveness", "--work", directory.path, "--size-mib", "1024"], timeout: .seconds(400)
        )
        #expect(result.status == 0, "\(result.output)")
        let line = try #require(result.output.split(separator: "\n").first { $0.hasPrefix("RESPONSIVENESS ") }, "\(result.output)")
        var figures: [String: Double] = [:]
        for field in line.split(separator: " ").dropFirst() {
            let parts = field.split(separator: "=")
            if parts.count == 2 { figures[String(parts[0])] = Double(parts[1]) }
        }
        print(result.output.split(separator: "\n").first { $0.hasPrefix("responsiveness:") } ?? "")
        #expect(figures["imported"] == 1 && figures["received"] == 1, "\(line)")
        #expect(figures["stayed_up"] == 1, "the probe's connection was closed while the file work ran: \(line)")
        #expect((figures["pings"] ?? 0) >= 5, "too few PINGs answered: \(line)")
        // Loose bounds for a loaded CI machine. Blocking file work on a loop or the pool
        // stalls these for whole seconds (an fsync of 1 GiB alone takes that long).
        #expect((figures["worst_ping_ms"] ?? .infinity) < 750, "\(line)")
        #expect((figures["worst_overrun_ms"] ?? .infinity) < 750, "\(line)")
    }
}
