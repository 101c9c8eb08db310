import Foundation
import TernTestSupport
import Testing

/// Backups and restores through real processes: GNU tar on the site, chunks uploaded
/// over the wire protocol into the controller's object store, restored back down.
@Suite("Backup and restore", .serialized)
struct BackupTests {
    /// A tree with what a backup must keep: modes, owners, a relative symlink, a hard
    /// link, a sparse file, an empty file, a name with spaces and UTF-8, a subfolder.
    static func makeTree(_ root: String) async throws {
        try await shell("""
            set -e
            mkdir -p '\(root)/etc/app/conf.d' '\(root)/var/app'
            printf 'role=edge\\n' > '\(root)/etc/app/app.conf'; chmod 0640 '\(root)/etc/app/app.conf'; chown 1234:5678 '\(root)/etc/app/app.conf'
            printf 'x=1\\n' > '\(root)/etc/app/conf.d/10-x.conf'; chmod 0600 '\(root)/etc/app/conf.d/10-x.conf'
            ln -s ../app.conf '\(root)/etc/app/conf.d/link.conf'
            : > '\(root)/etc/app/empty'
            printf 'grüße\\n' > '\(root)/etc/app/ünïcødé file.txt'
            head -c 300000 /dev/urandom > '\(root)/var/app/data.bin'
            ln '\(root)/var/app/data.bin' '\(root)/var/app/data-hardlink.bin'
            truncate -s 64M '\(root)/var/app/sparse.img'; printf 'end' | dd of='\(root)/var/app/sparse.img' bs=1 seek=60000000 conv=notrunc 2>/dev/null
            chmod 0751 '\(root)/var/app'
            """)
    }

    /// Everything about a tree a restore must bring back, one line per entry.
    static func snapshot(_ root: String) async throws -> String {
        try await shell("""
            cd '\(root)' && python3 - <<'PY'
            import hashlib, os
            inodes = {}
            for top, dirs, files in os.walk('.'):
                for name in dirs + files:
                    p = os.path.join(top, name); s = os.lstat(p)
                    if not os.path.isdir(p) or os.path.islink(p):
                        inodes.setdefault((s.st_ino), []).append(p)
            for top, dirs, files in sorted(os.walk('.')):
                for name in sorted(dirs + files):
                    p = os.path.join(top, name); s = os.lstat(p)
                    kind = 'l' if os.path.islink(p) else 'd' if os.path.isdir(p) else 'f'
                    extra = os.readlink(p) if kind == 'l' else ''
                    if kind == 'f':
                        extra = hashlib.sha256(open(p, 'rb').read()).hexdigest()[:16] + ' mtime=%d links=%s' % (int(s.st_mtime), sorted(inodes[s.st_ino]))
                    print(p, kind, oct(s.st_mode & 0o7777), s.st_uid, s.st_gid, s.st_size if kind != 'd' else '-', extra)
            PY
            """)
    }

    static func backups(_ fleet: ProcessFleet, _ subcloud: String) async throws -> [[String: Any]] {
        try await fleet.json(["backup", "list", "--subcloud", subcloud]) as! [[String: Any]]
    }

    @Test("round trip: a backup, then changes and deletions on the site, then a restore gives the tree back byte for byte and by metadata; then onto a replacement machine")
    func roundTrip() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let root = fleet.directory.appending("site-a")
            try await Self.makeTree(root)
            let paths = ["--backup-path", root + "/etc/app", "--backup-path", root + "/var/app"]
            #expect(try await fleet.enrolAndStart(["edge-a"], extra: paths))
            let before = try await Self.snapshot(root)

            let created = try await fleet.cli(["backup", "create", "--subcloud", "edge-a", "--watch"])
            #expect(created.status == 0 && created.output.contains("complete"), "\(created.output)\n\(fleet.controller!.output.suffix(3000))")
            let backup = try #require(try await Self.backups(fleet, "edge-a").first)
            #expect(backup["state"] as? String == "complete")
            #expect((backup["chunks"] as? Int ?? 0) >= 1 && (backup["archiveBytes"] as? Int ?? 0) > 300_000)
            // tar can list what the site archived (the chunks joined are a plain tar stream).
            #expect(!FileManager.default.fileExists(atPath: fleet.directory.appending("agent-edge-a") + "/backups/\(backup["id"]!)"), "the site kept its copy after the controller stored it")

            // The site changes: a file edited, one deleted, one added, a mode changed.
            try await shell("""
                printf 'role=core\\n' > '\(root)/etc/app/app.conf'; rm '\(root)/etc/app/conf.d/10-x.conf'
                printf 'new\\n' > '\(root)/etc/app/new.conf'; chmod 0777 '\(root)/var/app'
                """)
            #expect(try await Self.snapshot(root) != before)
            let restored = try await fleet.cli(["backup", "restore", "--subcloud", "edge-a", "--watch"])
            #expect(restored.status == 0 && restored.output.contains("activated"), "\(restored.output)\n\(fleet.agents["edge-a"]!.output.suffix(3000))")
            let after = try await Self.snapshot(root)
            #expect(after == before, "before:\n\(before)\nafter:\n\(after)")
            // Still sparse: 64 MiB long, a few KiB on disk.
            let blocks = try await shell("stat -c %b '\(root)/var/app/sparse.img'")
            #expect((Int(blocks) ?? .max) < 1024, "sparse file takes \(blocks) blocks")
            // No staging or old copies left beside the targets.
            #expect(try await shell("(ls -A '\(root)/etc'; ls -A '\(root)/var') | grep -c '^\\.tern-' || true") == "0")

            // The machine dies; a replacement is enrolled under another name and gets the backup.
            fleet.agents["edge-a"]!.signal(SIGKILL)
            try await shell("rm -rf '\(root)/etc/app' '\(root)/var/app'")
            #expect(try await fleet.enrolAndStart(["edge-b"], extra: paths))
            let replaced = try await fleet.cli(["backup", "restore", "--subcloud", "edge-a", "--to", "edge-b", "--watch"])
            #expect(replaced.status == 0, "\(replaced.output)\n\(fleet.agents["edge-b"]!.output.suffix(3000))")
            #expect(try await Self.snapshot(root) == before)
            let events = try await fleet.json(["event", "list"]) as! [[String: Any]]
            #expect(events.contains { $0["subcloud"] as? String == "edge-b" && ($0["detail"] as? String ?? "").contains("restore of backup \(backup["id"]!) complete") })
        }
    }

    @Test("deduplicated: four sites backing up the same files store them once, never more than --max-parallel at a time; a second backup after one of 50 files changed sends only a few chunks")
    func deduplicated() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let shared = fleet.directory.appending("shared-etc")
            // Seeded bytes, so a run's chunk counts can be replayed (see the bound below).
            try await Self.seededFiles(in: shared, names: (1...50).map { "file-\($0).conf" }, seed: 1)
            let sites = ["edge-1", "edge-2", "edge-3", "edge-4"]
            #expect(try await fleet.enrolAndStart(sites, extra: ["--backup-path", shared]))
            let objects = fleet.data + "/objects"
            let storedBefore = try await shell("du -sb '\(objects)' | cut -f1")

            let created = try await fleet.cli(["backup", "create", "--all", "--max-parallel", "2", "--watch"])
            #expect(created.status == 0, "\(created.output)\n\(fleet.controller!.output.suffix(3000))")
            let all = try await fleet.json(["backup", "list"]) as! [[String: Any]]
            #expect(all.count == 4 && all.allSatisfy { $0["state"] as? String == "complete" })
            let archive = all[0]["archiveBytes"] as! Int
            let uploaded = all.map { $0["bytesUploaded"] as! Int }.reduce(0, +)
            // Once: the archive plus four small manifests, not four archives.
            #expect(uploaded < archive + archive / 10, "uploaded \(uploaded) bytes for 4 sites of a \(archive)-byte archive")
            let stored = Int(try await shell("du -sb '\(objects)' | cut -f1"))! - Int(storedBefore)!
            #expect(stored < archive + archive / 10 + 64 * 1024, "stored \(stored) bytes for 4 sites of a \(archive)-byte archive")

            // Never more than 2 running: replay the event log.
            let events = (try await fleet.json(["event", "list"]) as! [[String: Any]]).filter { $0["kind"] as? String == "backup" }
            var running = 0, most = 0
            for event in events.sorted(by: { ($0["id"] as! Int) < ($1["id"] as! Int) }) {
                let detail = event["detail"] as? String ?? ""
                if detail.hasSuffix(" started") { running += 1 }
                if detail.contains(" complete:") || detail.contains(" failed:") { running -= 1 }
                most = max(most, running)
            }
            #expect(most <= 2 && most >= 1, "\(most) backups ran at once: \(events.map { $0["detail"] ?? "" })")

            // One file of 50 changes: the next backup of a site sends a few chunks, not the archive.
            // How many is a distribution, not a constant: the chunks overlapping the 400 KB
            // change (1 or 2), then however many it takes the cuts after it to fall back on the
            // old ones (the 512 KiB minimum can skip an old cut). Over 3,000 simulated edits of
            // this archive: 1 chunk 52 %, 2 40 %, 3 6.3 %, 4 1.4 %, 5 0.27 %, 6 or more 0.1 %.
            // So: at most 6, and under half the archive's bytes.
            try await Self.seededFiles(in: shared, names: ["file-25.conf"], seed: 2)
            #expect(try await fleet.cli(["backup", "create", "--subcloud", "edge-1", "--watch"]).status == 0)
            let second = try #require(try await Self.backups(fleet, "edge-1").first)
            let chunks = second["chunksUploaded"] as! Int
            #expect(chunks >= 1 && chunks <= 6, "\(chunks) of \(second["chunks"]!) chunks uploaded")
            #expect((second["bytesUploaded"] as! Int) < archive / 2, "\(second)")
        }
    }

    /// Files of 400,000 pseudo-random bytes each from `seed` (Python's Mersenne Twister:
    /// the same bytes on every machine, so a failing run can be replayed).
    static func seededFiles(in directory: String, names: [String], seed: Int) async throws {
        let list = names.map { "'\($0)'" }.joined(separator: ", ")
        try await shell("""
            mkdir -p '\(directory)' && cd '\(directory)' && python3 - <<'PY'
            import random
            generator = random.Random(\(seed))
            for name in [\(list)]:
                open(name, "wb").write(generator.randbytes(400000))
            PY
            """)
    }

    /// A gauge from the controller's /metrics.
    static func metric(_ fleet: ProcessFleet, _ name: String) async throws -> Int {
        let text = try await shell("curl -s http://127.0.0.1:\(fleet.apiPort)/metrics | grep '^\(name) ' | cut -d' ' -f2")
        return Int(Double(text) ?? -1)
    }

    @Test("two cut links and a kill -9 of the controller mid-upload: the backup completes, and no cut costs more than a block sent again")
    func resumesUploads() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let proxy = try await FaultProxy(targetPort: fleet.wirePort)
            // The first two connections break part-way through the upload (client → controller bytes).
            proxy.scheduleUploadCuts([7_000_000, 6_500_000])
            let data = fleet.directory.appending("bulk")
            try await shell("mkdir -p '\(data)' && cd '\(data)' && for i in 1 2 3 4 5 6; do head -c 4000000 /dev/urandom > part-$i.bin; done")
            #expect(try await fleet.enrolAndStart(["edge-c"], extra: ["--backup-path", data, "--controller", "127.0.0.1:\(proxy.port)"]))
            #expect(try await fleet.cli(["backup", "create", "--subcloud", "edge-c"]).status == 0)

            // Two cuts, then well into the third connection's upload: kill -9 the controller.
            let progressed = await eventually(timeout: .seconds(120), every: .milliseconds(100)) {
                guard proxy.cutsDone >= 2 else { return false }
                return ((try? await Self.metric(fleet, "tern_upload_bytes")) ?? 0) >= 17_000_000
            }
            #expect(progressed, "cuts \(proxy.cutsDone); \(fleet.controller!.output.suffix(2000))")
            let resentBeforeKill = try await Self.metric(fleet, "tern_upload_resent_bytes")
            fleet.controller!.signal(SIGKILL)
            _ = await fleet.controller!.wait(timeout: .seconds(10))
            try await fleet.startController()

            let watched = try await fleet.cli(["backup", "show", "1", "--watch"])
            #expect(watched.status == 0 && watched.output.contains("complete"), "\(watched.output)\n\(fleet.controller!.output.suffix(6000))\nAGENT\n\(fleet.agents["edge-c"]!.output.suffix(6000))")
            let block = (1 << 20) + 13
            #expect(resentBeforeKill <= 2 * block, "the two cuts re-sent \(resentBeforeKill) bytes")
            let resentAfter = try await Self.metric(fleet, "tern_upload_resent_bytes")
            #expect(resentAfter <= block, "the restart re-sent \(resentAfter) bytes")
            // What the controller holds is the site's data: restore it elsewhere and compare.
            let before = try await shell("cd '\(data)' && sha256sum part-*.bin")
            try await shell("rm -rf '\(data)'")
            #expect(try await fleet.cli(["backup", "restore", "--subcloud", "edge-c", "--watch"]).status == 0)
            #expect(try await shell("cd '\(data)' && sha256sum part-*.bin") == before)
            try await proxy.close()
        }
    }

    @Test("local-only: the archive stays on the site (tar can list it) and only the manifest travels; it restores there, and nowhere else")
    func localOnly() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let root = fleet.directory.appending("site-l")
            try await Self.makeTree(root)
            #expect(try await fleet.enrolAndStart(["edge-l", "edge-m"], extra: ["--backup-path", root + "/etc/app"]))
            let before = try await Self.snapshot(root + "/etc/app")
            let created = try await fleet.cli(["backup", "create", "--subcloud", "edge-l", "--local-only", "--watch"])
            #expect(created.status == 0, "\(created.output)")
            let backup = try #require(try await Self.backups(fleet, "edge-l").first)
            #expect(backup["state"] as? String == "complete" && backup["localOnly"] as? Bool == true)
            #expect((backup["bytesUploaded"] as? Int ?? .max) < 16 * 1024, "\(backup)")
            let archive = fleet.directory.appending("agent-edge-l") + "/backups/\(backup["id"]!)/archive.tar"
            let listing = try await shell("tar -tvf '\(archive)'")
            #expect(listing.contains("app.conf") && listing.contains("1234/5678") && listing.contains("link.conf -> ../app.conf"), "\(listing)")

            try await shell("rm -rf '\(root)/etc/app/conf.d'; printf 'changed' > '\(root)/etc/app/app.conf'")
            let restored = try await fleet.cli(["backup", "restore", "--subcloud", "edge-l", "--watch"])
            #expect(restored.status == 0, "\(restored.output)\n\(fleet.agents["edge-l"]!.output.suffix(2000))")
            #expect(try await Self.snapshot(root + "/etc/app") == before)
            let elsewhere = try await fleet.cli(["backup", "restore", "--subcloud", "edge-l", "--to", "edge-m"])
            #expect(elsewhere.status != 0 && elsewhere.output.contains("local-only"), "\(elsewhere.output)")
        }
    }

    @Test("scheduled backups run every interval and keep --keep per site; a run missed while the controller was down raises 210.003, cleared by the next run on time")
    func scheduled() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let root = fleet.directory.appending("site-s")
            try await shell("mkdir -p '\(root)' && printf 'a=1' > '\(root)/a.conf'")
            #expect(try await fleet.enrolAndStart(["edge-s"], extra: ["--backup-path", root]))
            let added = try await fleet.cli(["backup", "schedule", "--every", "3s", "--subcloud", "edge-s", "--keep", "2"])
            #expect(added.status == 0 && added.output.contains("every 3 s"), "\(added.output)")
            func requested() async throws -> Int {
                let events = try await fleet.json(["event", "list"]) as! [[String: Any]]
                return events.filter { ($0["detail"] as? String ?? "").hasSuffix("requested") }.count
            }
            #expect(await eventually(timeout: .seconds(40), every: .milliseconds(500)) { ((try? await requested()) ?? 0) >= 4 })
            let kept = try await Self.backups(fleet, "edge-s").filter { $0["state"] as? String == "complete" }
            #expect(kept.count <= 2 && !kept.isEmpty, "\(kept.count) complete backups kept with --keep 2")
            let list = try await fleet.cli(["backup", "schedule", "--list"])
            #expect(list.output.contains("subclouds edge-s"), "\(list.output)")

            // The controller is down for more than an interval: the run due meanwhile is late.
            fleet.controller!.signal(SIGTERM)
            _ = await fleet.controller!.wait(timeout: .seconds(20))
            try await Task.sleep(for: .seconds(7))
            try await fleet.startController()
            func alarmed() async throws -> Bool {
                let alarms = try await fleet.json(["alarm", "list"]) as! [[String: Any]]
                return alarms.contains { $0["alarmID"] as? String == "210.003" }
            }
            #expect(await eventually(timeout: .seconds(10)) { (try? await alarmed()) == true }, "no missed-schedule alarm")
            #expect(await eventually(timeout: .seconds(15), every: .milliseconds(500)) { (try? await alarmed()) == false }, "the alarm stayed after an on-time run")
        }
    }
}
