import Foundation
import Testing
import Wire
@testable import Agent

/// Health and firmware read from a fixture tree with the real file names and formats
/// of procfs and sysfs (Fixtures/host-a).
@Suite struct HostReadingTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/host-a").path
    static let roots = HostRoots(proc: fixture + "/proc", sys: fixture + "/sys")

    @Test("procfs parsers read the fields health needs")
    func parsers() throws {
        let stat = try String(contentsOfFile: Self.roots.proc + "/stat", encoding: .utf8)
        let cpu = try #require(ProcFiles.cpuTimes(stat: stat))
        // user+nice+system+idle+iowait+irq+softirq+steal; idle+iowait are not busy.
        #expect(cpu.total == 10132153 + 290696 + 3084719 + 46828483 + 16683 + 0 + 25195 + 0)
        #expect(cpu.busy == cpu.total - 46828483 - 16683)
        let memory = try #require(ProcFiles.memory(meminfo: try String(contentsOfFile: Self.roots.proc + "/meminfo", encoding: .utf8)))
        #expect(memory.total == 8039760 * 1024 && memory.available == 5123456 * 1024)
        #expect(ProcFiles.load1(loadavg: "0.42 0.35 0.30 2/341 12345") == 0.42)
        #expect(ProcFiles.uptime("93784.12 178123.45") == 93784)
        let mounts = ProcFiles.mountPoints(mounts: try String(contentsOfFile: Self.roots.proc + "/mounts", encoding: .utf8))
        // Data filesystems only, each once, with octal escapes decoded.
        #expect(mounts == ["/", "/boot/efi", "/srv/my data"])
    }

    @Test("CPU use is measured between two samples")
    func cpuBetweenSamples() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tern-proc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var sampler = HealthSampler(roots: HostRoots(proc: directory, sys: directory))
        try "cpu  100 0 100 800 0 0 0 0 0 0\n".write(toFile: directory + "/stat", atomically: true, encoding: .utf8)
        _ = sampler.sample()
        // 300 more busy jiffies out of 1000: 30%.
        try "cpu  300 0 200 1500 0 0 0 0 0 0\n".write(toFile: directory + "/stat", atomically: true, encoding: .utf8)
        #expect(sampler.sample().cpuPermille == 300)
    }

    @Test("the first report is full; later ones carry only what moved")
    func deltas() throws {
        var sampler = HealthSampler(roots: Self.roots)
        var snapshot = HealthReport(full: true, cpuPermille: 100, memoryTotalBytes: 8 << 30, memoryAvailableBytes: 4 << 30, load1Milli: 500, uptimeSeconds: 10,
                                    disks: [DiskUsage(mount: "/", totalBytes: 100 << 30, usedBytes: 50 << 30)])
        #expect(sampler.report(for: snapshot) == snapshot)
        // Small movements: nothing to send.
        snapshot.cpuPermille = 110
        snapshot.memoryAvailableBytes = (4 << 30) + (1 << 20)
        snapshot.uptimeSeconds = 40
        #expect(sampler.report(for: snapshot) == nil)
        // CPU moved by 5%: only CPU (and the uptime riding along).
        snapshot.cpuPermille = 150
        let delta = sampler.report(for: snapshot)
        #expect(delta == HealthReport(cpuPermille: 150, uptimeSeconds: 40))
        // A disk filled by 1%: the disk list.
        snapshot.disks[0].usedBytes += 1 << 30
        #expect(sampler.report(for: snapshot)?.disks == snapshot.disks)
        // After a reconnect: full again.
        sampler.resend()
        #expect(sampler.report(for: snapshot) == snapshot)
    }

    @Test("a sample of the fixture host has memory, load, uptime and the root filesystem")
    func sampleFixture() {
        var sampler = HealthSampler(roots: Self.roots)
        let report = sampler.sample()
        #expect(report.full)
        #expect(report.memoryAvailableBytes == 5123456 * 1024)
        #expect(report.load1Milli == 420)
        #expect(report.uptimeSeconds == 93784)
        // statvfs runs on the mount points listed; "/" exists on any test machine.
        #expect(report.disks.contains { $0.mount == "/" && $0.totalBytes > 0 })
    }

    @Test("firmware inventory from the DMI files")
    func firmware() async {
        let inventory = await FirmwareReader(roots: Self.roots, fwupdTool: nil).inventory()
        #expect(inventory.components == [
            FirmwareComponent(kind: "bios", name: "BIOS", vendor: "Dell Inc.", version: "2.19.0", releaseDate: "07/12/2023"),
            FirmwareComponent(kind: "board", name: "0XYZ12", vendor: "Dell Inc.", version: "A04", releaseDate: ""),
            FirmwareComponent(kind: "product", name: "PowerEdge XR11", vendor: "Dell Inc.", version: "", releaseDate: ""),
        ])
        // No DMI at all (as on this build machine): an empty inventory, not an error.
        #expect(await FirmwareReader(roots: HostRoots(proc: "/nonexistent", sys: "/nonexistent"), fwupdTool: nil).inventory().components.isEmpty)
    }
}
