import Agent
import Controller
import Foundation
import Logging
import Platform
import ServiceLifecycle
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The simulated agents' identities and host fixtures, kept under one state directory:
/// `STATE/NAME/` is an agent's state directory (as `tern-agent run --state`), and
/// `STATE/hosts/N/{proc,sys}` are sixteen host fixtures in the real file formats
/// (meminfo, loadavg, uptime, mounts, DMI), so health and firmware differ per agent.
struct SimFleet {
    static let variants = 16
    let api: SimAPI
    let root: String
    let logger: Logger
    /// Shared by every agent's link: the report reads the whole fleet's in one go.
    let counters = LinkCounters()

    /// One simulated agent.
    struct Agent {
        let name: String
        let status: LinkStatus
        let link: ControllerLink
        var service: any Service { self.link }
    }

    /// Enrols the agents that have no identity yet (at most `parallel` at once);
    /// returns how many it enrolled.
    func provision(_ names: [String], parallel: Int) async throws -> Int {
        try AtomicFile.makeDirectory(self.root, mode: 0o700)
        try self.makeHosts()
        let missing = names.filter { (try? AgentIdentity.load(stateDirectory: self.state($0))) == nil }
        var enrolled = 0
        try await withThrowingTaskGroup(of: Void.self) { group in
            var pending = missing[...]
            for _ in 0..<min(parallel, pending.count) {
                let name = pending.removeFirst()
                group.addTask { try await self.enrol(name) }
            }
            while try await group.next() != nil {
                enrolled += 1
                if enrolled % 1000 == 0 { print("tern-sim: \(enrolled) of \(missing.count) enrolled") }
                if let name = pending.popFirst() { group.addTask { try await self.enrol(name) } }
            }
        }
        return enrolled
    }

    private func enrol(_ name: String) async throws {
        let added = try await self.api.bootstrap(name)
        let (host, port) = try HostPort.parse(added.enrolAddress)
        guard let fingerprint = ContentDigest(hex: added.caFingerprint) else { throw SimError("bad CA fingerprint from the controller") }
        var attempt = 0
        while true {
            do {
                _ = try await Enroller(
                    controllerHost: host, controllerPort: port, token: added.bootstrapToken, caFingerprint: fingerprint,
                    stateDirectory: self.state(name), logger: self.logger
                ).enrol()
                return
            } catch {
                attempt += 1
                guard attempt < 5 else { throw SimError("\(name) could not enrol: \(error)") }
                try await Task.sleep(for: .milliseconds(200 * attempt))
            }
        }
    }

    func agent(_ name: String, variant: Int, source: String?, heartbeat: Duration?) throws -> Agent {
        let state = self.state(name)
        // Every saved address, as `tern-agent run` uses them.
        let addresses = try AgentIdentity.controllerAddresses(stateDirectory: state)
        guard !addresses.isEmpty else { throw SimError("\(name) has no controller address in \(state)") }
        var configuration = AgentConfiguration(stateDirectory: state, controllers: try addresses.map(ControllerAddress.init(parsing:)))
        let hostRoot = "\(self.root)/hosts/\(variant % Self.variants)"
        configuration.roots = HostRoots(proc: hostRoot + "/proc", sys: hostRoot + "/sys")
        configuration.configRoot = state + "/root"
        configuration.useFwupd = false
        configuration.reconnectBase = .seconds(1)
        configuration.reconnectCap = .seconds(30)
        configuration.sourceAddress = source
        configuration.heartbeatInterval = heartbeat
        let status = LinkStatus(counters: self.counters)
        return Agent(name: name, status: status, link: ControllerLink(configuration: configuration, status: status, logger: self.logger))
    }

    func state(_ name: String) -> String { self.root + "/" + name }

    /// Sixteen hosts: memory in use, load and uptime differ; CPU reads the real
    /// /proc/stat (so it moves), disks the real root file system.
    private func makeHosts() throws {
        for variant in 0..<Self.variants {
            let proc = "\(self.root)/hosts/\(variant)/proc"
            let dmi = "\(self.root)/hosts/\(variant)/sys/class/dmi/id"
            try FileManager.default.createDirectory(atPath: proc, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dmi, withIntermediateDirectories: true)
            let total = 8_039_760 * (1 + variant % 4)
            let available = total * (20 + variant * 4) / 100
            try AtomicFile.write("""
                MemTotal:       \(total) kB
                MemFree:        \(available / 2) kB
                MemAvailable:   \(available) kB
                Buffers:          210996 kB
                Cached:          3987654 kB

                """, to: proc + "/meminfo")
            try AtomicFile.write(String(format: "%.2f %.2f %.2f 2/341 12345\n", 0.1 * Double(variant), 0.08 * Double(variant), 0.05 * Double(variant)), to: proc + "/loadavg")
            try AtomicFile.write("\(86_400 * (variant + 1)).12 \(170_000 * (variant + 1)).45\n", to: proc + "/uptime")
            try AtomicFile.write("/dev/sda2 / ext4 rw,relatime 0 0\n", to: proc + "/mounts")
            // Made beside and renamed over: several simulators may share the state directory.
            let stat = proc + "/stat"
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: stat)) == nil {
                let temporary = stat + ".\(getpid())"
                unlink(temporary)
                guard symlink("/proc/stat", temporary) == 0, rename(temporary, stat) == 0 else {
                    throw SimError("cannot link \(stat) to /proc/stat: \(String(cString: strerror(errno)))")
                }
            }
            let firmware = [
                "bios_vendor": "American Megatrends International, LLC.", "bios_version": "1.\(variant)a", "bios_date": "03/14/2026",
                "board_vendor": "Supermicro", "board_name": "X12STL-F", "board_version": "1.0\(variant % 3)",
                "sys_vendor": "Supermicro", "product_name": "SYS-E300-12D", "product_version": "0123456789",
            ]
            for (file, value) in firmware { try AtomicFile.write(value + "\n", to: dmi + "/" + file) }
        }
    }
}

/// Source addresses in an IPv4 network: agent i leaves from host i + 1 of it
/// (skipping .0 and .255, which some stacks treat specially).
struct SourceAddresses {
    let base: UInt32
    let size: UInt32

    init(_ cidr: String) throws {
        let parts = cidr.split(separator: "/")
        let octets = parts.first.map { $0.split(separator: ".").compactMap { UInt32($0) } } ?? []
        guard parts.count == 2, octets.count == 4, octets.allSatisfy({ $0 < 256 }), let bits = UInt32(parts[1]), (8...30).contains(bits) else {
            throw SimError("--from is an IPv4 network, e.g. 127.0.0.0/8")
        }
        let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
        self.base = (octets[0] << 24 | octets[1] << 16 | octets[2] << 8 | octets[3]) & mask
        self.size = ~mask
    }

    func address(_ index: Int) -> String {
        // Hosts whose last octet is 0 or 255 are skipped: 254 usable per 256.
        let host = UInt32(index / 254) * 256 + UInt32(index % 254) + 1
        let value = self.base + (host % self.size)
        return "\(value >> 24).\((value >> 16) & 255).\((value >> 8) & 255).\(value & 255)"
    }
}
