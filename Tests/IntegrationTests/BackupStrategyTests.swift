import Foundation
import TernTestSupport
import Testing

/// Bulk backups and restores as orchestration strategies of type `backup` and
/// `restore`: the strategy's window limits them, every step follows its backup or
/// restore to the end, and the usual strategy rules (events, abort, timeouts) apply.
@Suite("Backup and restore strategies", .serialized)
struct BackupStrategyTests {
    static func watch(_ fleet: ProcessFleet, _ type: String) async throws -> (status: Int32, output: String) {
        try await TernTestSupport.run(
            ChildProcess.productsDirectory + "/tern-controller", ["strategy", "show", type, "--watch", "--interval", "0.3", "--data", fleet.data],
            timeout: .seconds(240)
        )
    }

    /// The most steps running at once, replayed from the event log.
    static func mostAtOnce(_ fleet: ProcessFleet, started: String, ended: [String]) async throws -> Int {
        let events = (try await fleet.json(["event", "list"]) as! [[String: Any]]).sorted { ($0["id"] as! Int) < ($1["id"] as! Int) }
        var running = 0, most = 0
        for event in events {
            let detail = event["detail"] as? String ?? ""
            if detail.hasPrefix(started) { running += 1 }
            if ended.contains(where: detail.hasPrefix) { running -= 1 }
            most = max(most, running)
        }
        return most
    }

    @Test("a backup strategy over four sites, two at a time, then a restore strategy puts every site's tree back; a restore strategy is refused for a site without a backup")
    func backupThenRestore() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let sites = ["edge-1", "edge-2", "edge-3", "edge-4"]
            var before: [String: String] = [:]
            for site in sites {
                let root = fleet.directory.appending("tree-\(site)")
                try await BackupTests.makeTree(root)
                try await shell("printf '\(site)\\n' > '\(root)/etc/app/site.conf'")
                #expect(try await fleet.enrolAndStart([site], extra: ["--backup-path", root + "/etc/app", "--backup-path", root + "/var/app"]))
                before[site] = try await BackupTests.snapshot(root)
                // Strategies act on managed subclouds only.
                #expect(try await fleet.cli(["subcloud", "manage", site]).status == 0)
            }

            // Restore before any backup: refused, naming the sites that lack one.
            let early = try await fleet.cli(["strategy", "create", "restore", "--subcloud", "edge-1", "edge-2"])
            #expect(early.status != 0 && early.output.contains("edge-1") && early.output.contains("no complete backup"), "\(early.output)")

            let created = try await fleet.cli(["strategy", "create", "backup", "--subcloud"] + sites + ["--max-parallel", "2", "--keep", "3"])
            #expect(created.status == 0, "\(created.output)")
            #expect(try await fleet.cli(["strategy", "apply", "backup"]).status == 0)
            let watched = try await Self.watch(fleet, "backup")
            #expect(watched.status == 0 && watched.output.contains("backup strategy complete, 100% done: complete 4"), "\(watched.output)\n\(fleet.controller!.output.suffix(3000))")

            let view = try await fleet.json(["strategy", "show", "backup"]) as! [String: Any]
            let steps = view["steps"] as! [[String: Any]]
            let backups = try await fleet.json(["backup", "list"]) as! [[String: Any]]
            #expect(backups.count == 4 && backups.allSatisfy { $0["state"] as? String == "complete" }, "\(backups)")
            // Each step names the backup it made, and that backup is its own site's.
            for step in steps {
                let id = step["backupID"] as? Int
                #expect(backups.contains { $0["id"] as? Int == id && $0["subcloud"] as? String == step["subcloud"] as? String }, "\(step)")
            }
            let atOnce = try await Self.mostAtOnce(fleet, started: "backup step applying", ended: ["backup step complete", "backup step failed"])
            #expect(atOnce == 2, "\(atOnce) backup steps ran at once with --max-parallel 2")

            // Every site changes; the restore strategy puts each one's own tree back.
            for site in sites {
                let root = fleet.directory.appending("tree-\(site)")
                try await shell("rm -rf '\(root)/etc/app/conf.d'; printf 'changed\\n' > '\(root)/etc/app/site.conf'; rm '\(root)/var/app/data.bin'")
                #expect(try await BackupTests.snapshot(root) != before[site])
            }
            // One strategy of each type at a time, and not over subclouds another running strategy holds:
            // the finished backup strategy does not block the restore.
            let restore = try await fleet.cli(["strategy", "create", "restore", "--subcloud"] + sites + ["--max-parallel", "3"])
            #expect(restore.status == 0, "\(restore.output)")
            #expect(try await fleet.cli(["strategy", "apply", "restore"]).status == 0)
            let restored = try await Self.watch(fleet, "restore")
            #expect(restored.status == 0 && restored.output.contains("restore strategy complete, 100% done: complete 4"), "\(restored.output)\n\(fleet.controller!.output.suffix(3000))")
            for site in sites {
                let after = try await BackupTests.snapshot(fleet.directory.appending("tree-\(site)"))
                #expect(after == before[site], "\(site) before:\n\(before[site]!)\nafter:\n\(after)")
            }
            let restoring = try await Self.mostAtOnce(fleet, started: "restore step applying", ended: ["restore step complete", "restore step failed"])
            #expect((1...3).contains(restoring), "\(restoring) restore steps ran at once with --max-parallel 3")
            let events = try await fleet.json(["event", "list"]) as! [[String: Any]]
            for site in sites {
                #expect(events.contains { $0["subcloud"] as? String == site && ($0["detail"] as? String ?? "").contains("restore of backup") && ($0["detail"] as? String ?? "").contains("complete") })
            }
        }
    }
}
