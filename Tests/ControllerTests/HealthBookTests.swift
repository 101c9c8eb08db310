import Foundation
import Testing
import Wire
@testable import Controller

@Suite struct HealthBookTests {
    @Test("partial reports update only what they carry; a full one replaces")
    func merge() async {
        let book = HealthBook()
        let t0 = Date(timeIntervalSince1970: 1_795_000_000)
        let first = book.merge(HealthReport(full: true, cpuPermille: 125, memoryTotalBytes: 100, memoryAvailableBytes: 50, load1Milli: 1500,
                                                 disks: [DiskUsage(mount: "/", totalBytes: 10, usedBytes: 5)]), for: "edge-01", at: t0)
        #expect(first.cpuPercent == 12.5 && first.load1 == 1.5 && first.disks.count == 1)
        let second = book.merge(HealthReport(cpuPermille: 300), for: "edge-01", at: t0.addingTimeInterval(30))
        #expect(second.cpuPercent == 30 && second.memoryAvailableBytes == 50 && second.disks.count == 1 && second.reportedAt == t0.addingTimeInterval(30))
        let replaced = book.merge(HealthReport(full: true, cpuPermille: 10), for: "edge-01", at: t0)
        #expect(replaced.memoryAvailableBytes == nil && replaced.disks.isEmpty)
        // Other subclouds are separate.
        #expect(book.merge(HealthReport(load1Milli: 10), for: "edge-02", at: t0).cpuPercent == nil)
    }

    @Test("a forgotten subcloud leaves no samples and nothing to flush; others are kept")
    func forget() {
        let book = HealthBook()
        let t0 = Date(timeIntervalSince1970: 1_795_000_000)
        book.merge(HealthReport(full: true, cpuPermille: 125), for: "edge-01", at: t0)
        book.merge(HealthReport(full: true, cpuPermille: 250), for: "edge-02", at: t0)
        #expect(book.samples(for: "edge-01").count == 1)
        book.forget("edge-01")
        #expect(book.samples(for: "edge-01").isEmpty)
        #expect(Set(book.takeChanged().keys) == ["edge-02"])
        #expect(book.samples(for: "edge-02").count == 1)
    }
}
