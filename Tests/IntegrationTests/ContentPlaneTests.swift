import Foundation
import TernTestSupport
import Testing

/// The content plane end to end with the shipped binaries and the real tools:
/// config generations, OSTree deltas (ostree CLI), OCI images (umoci, skopeo),
/// firmware with prestage.
@Suite(.serialized) struct ContentPlaneTests {
    /// Enrols and starts one agent; returns its state directory.
    static func enrolled(_ fleet: ProcessFleet, _ name: String, extra: [String] = []) async throws -> String {
        let (token, fingerprint) = try await fleet.add(name)
        let enrolled = try await fleet.enrol(name, token: token, fingerprint: fingerprint)
        try #require(enrolled.status == 0, "\(enrolled.output)")
        try fleet.startAgent(name, extra: extra)
        let online = await eventually(timeout: .seconds(20)) { (try? await fleet.subclouds())?[name]?["availability"] as? String == "online" }
        try #require(online)
        return fleet.directory.appending("agent-\(name)")
    }

    static func deployment(_ fleet: ProcessFleet, _ subcloud: String, id: Any?) async throws -> [String: Any]? {
        let list = try await fleet.json(["deployment", "list", "--subcloud", subcloud]) as? [[String: Any]] ?? []
        return list.first { "\($0["id"] ?? "")" == "\(id ?? "-")" }
    }

    static func waitFor(_ fleet: ProcessFleet, _ subcloud: String, deployment id: Any?, state: String, timeout: Duration = .seconds(60)) async throws -> Bool {
        await eventually(timeout: timeout, every: .milliseconds(300)) {
            (try? await Self.deployment(fleet, subcloud, id: id))?["state"] as? String == state
        }
    }

    @Test("config: files land atomically with their modes, reload runs, in-sync; a local edit is drift; the next generation merges")
    func configPush() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let root = fleet.directory.appending("site-root")
            let marker = fleet.directory.appending("reloaded")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            _ = try await Self.enrolled(fleet, "edge-01", extra: [
                "--config-root", root, "--reload-action", "touch-marker=/usr/bin/touch \(marker)",
            ])
            let ntp = fleet.directory.appending("ntp.conf")
            let app = fleet.directory.appending("app.env")
            try "server 10.0.0.1 iburst\n".write(toFile: ntp, atomically: true, encoding: .utf8)
            try "MODE=edge\n".write(toFile: app, atomically: true, encoding: .utf8)

            // A reload action the agent does not allow: refused, nothing written.
            let refused = try await fleet.cli(["config", "set", "--subcloud", "edge-01", "\(ntp):/etc/ntp.conf:0644", "--reload", "rm-rf"])
            #expect(refused.status == 0, "\(refused.output)")
            let failed = await eventually(timeout: .seconds(20)) {
                ((try? await fleet.json(["config", "show", "--subcloud", "edge-01"])) as? [[String: Any]])?.first?["state"].flatMap { ($0 as? [String: Any])?["status"] as? String } == "failed"
            }
            #expect(failed)
            #expect(!FileManager.default.fileExists(atPath: root + "/etc/ntp.conf"))

            let set = try await fleet.cli(["config", "set", "--subcloud", "edge-01", "\(ntp):/etc/ntp.conf:0644", "\(app):/etc/app/app.env:0600", "--reload", "touch-marker"])
            #expect(set.status == 0, "\(set.output)")
            let inSync = await eventually(timeout: .seconds(20)) {
                let view = ((try? await fleet.json(["config", "show", "--subcloud", "edge-01"])) as? [[String: Any]])?.first
                return view?["sync"] as? String == "in-sync" && (view?["state"] as? [String: Any])?["appliedGeneration"] as? Int == 2
            }
            #expect(inSync)
            #expect(try String(contentsOfFile: root + "/etc/ntp.conf", encoding: .utf8) == "server 10.0.0.1 iburst\n")
            #expect(try FileManager.default.attributesOfItem(atPath: root + "/etc/app/app.env")[.posixPermissions] as? Int == 0o600)
            #expect(try FileManager.default.attributesOfItem(atPath: root + "/etc/ntp.conf")[.posixPermissions] as? Int == 0o644)
            #expect(FileManager.default.fileExists(atPath: marker))
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/etc").allSatisfy { !$0.hasPrefix(".tern-") })

            // Someone edits a file on the site: drift, out-of-sync, named.
            try "server evil.example\n".write(toFile: root + "/etc/ntp.conf", atomically: true, encoding: .utf8)
            let drifted = await eventually(timeout: .seconds(20)) {
                let view = ((try? await fleet.json(["config", "show", "--subcloud", "edge-01"])) as? [[String: Any]])?.first
                return view?["sync"] as? String == "out-of-sync" && ((view?["state"] as? [String: Any])?["detail"] as? String ?? "").contains("/etc/ntp.conf")
            }
            #expect(drifted)

            // The next generation replaces one file and keeps the other; the drift is overwritten.
            try "server 10.0.0.2 iburst\n".write(toFile: ntp, atomically: true, encoding: .utf8)
            #expect(try await fleet.cli(["config", "set", "--subcloud", "edge-01", "\(ntp):/etc/ntp.conf:0644"]).status == 0)
            let merged = await eventually(timeout: .seconds(20)) {
                let view = ((try? await fleet.json(["config", "show", "--subcloud", "edge-01"])) as? [[String: Any]])?.first
                return view?["sync"] as? String == "in-sync" && (view?["state"] as? [String: Any])?["appliedGeneration"] as? Int == 3
            }
            #expect(merged)
            #expect(try String(contentsOfFile: root + "/etc/ntp.conf", encoding: .utf8) == "server 10.0.0.2 iburst\n")
            #expect(try String(contentsOfFile: root + "/etc/app/app.env", encoding: .utf8) == "MODE=edge\n")
            let shown = try await fleet.cli(["config", "show", "--subcloud", "edge-01"])
            #expect(shown.output.contains("/etc/app/app.env") && shown.output.contains("600"))
        }
    }

    @Test("OSTree: a commit from scratch, then a delta between two commits; fsck clean, checkout identical; software in-sync")
    func ostreeDeltas() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let work = fleet.directory.appending("os")
            let ref = "tern/x86_64/os"
            let c1 = try await Self.makeCommit(in: work, ref: ref)
            let state = try await Self.enrolled(fleet, "edge-01")

            #expect(try await fleet.cli(["software", "import", "--repo", work + "/central", "--ref", ref]).status == 0)
            let first = try await fleet.json(["software", "deploy", ref, "--subcloud", "edge-01"]) as! [[String: Any]]
            #expect(try await Self.waitFor(fleet, "edge-01", deployment: first.first?["id"], state: "activated"))
            let repo = state + "/ostree-repo"
            #expect(try await shell("ostree rev-parse --repo=\(repo) \(ref)") == c1)

            let c2 = try await shell("cd \(work) && ostree commit --repo=central --branch=\(ref) --subject=v2 --tree=dir=tree2")
            #expect(try await fleet.cli(["software", "import", "--repo", work + "/central", "--ref", ref]).status == 0)
            let listed = try await fleet.cli(["software", "list"])
            #expect(listed.output.contains(c1) && listed.output.contains(c2), "\(listed.output)")
            // The import already prepared the delta from the commit the site runs.
            let prepared = await eventually(timeout: .seconds(30)) { FileManager.default.fileExists(atPath: fleet.data + "/deltas/\(c1)-\(c2)/objects.json") }
            #expect(prepared)
            // Prestage first: the delta is delivered, the ref does not move.
            let prestage = try await fleet.json(["software", "deploy", ref, "--prestage", "--subcloud", "edge-01"]) as! [[String: Any]]
            #expect(try await Self.waitFor(fleet, "edge-01", deployment: prestage.first?["id"], state: "prestaged"))
            #expect(try await shell("ostree rev-parse --repo=\(repo) \(ref)") == c1)
            let fetchedBefore = try Self.fetched(fleet).count
            let second = try await fleet.json(["software", "deploy", ref, "--subcloud", "edge-01"]) as! [[String: Any]]
            #expect(second.first?["version"] as? String == c2)
            #expect(try await Self.waitFor(fleet, "edge-01", deployment: second.first?["id"], state: "activated"))
            #expect(try await shell("ostree rev-parse --repo=\(repo) \(ref)") == c2)
            #expect(try Self.fetched(fleet).count == fetchedBefore)  // activated from the prestaged objects
            // The second delta went from c1 to c2, not from scratch.
            #expect(FileManager.default.fileExists(atPath: fleet.data + "/deltas/\(c1)-\(c2)/objects.json"))
            try await shell("ostree fsck --repo=\(repo) >/dev/null 2>&1")
            try await shell("ostree checkout --repo=\(repo) -U \(ref) \(work)/out && diff -r \(work)/tree2 \(work)/out")
            let synced = await eventually(timeout: .seconds(10)) { (try? await fleet.subclouds())?["edge-01"].flatMap { ($0["sync"] as? [String: Any])?["software"] as? String } == "in-sync" }
            #expect(synced)

            // Collection: the delta from scratch to c1 is no longer wanted; the one to c2 (newest) is.
            let scratch = fleet.data + "/deltas/empty-\(c1)"
            let scratchObjects = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch + "/objects.json"))) as? [[String: Any]] ?? [])
                .compactMap { $0["digest"] as? String }
            #expect(!scratchObjects.isEmpty)
            let dryRun = try await fleet.json(["objects", "gc", "--dry-run", "--grace-seconds", "0"]) as! [String: Any]
            #expect(dryRun["deltasRemoved"] as? [String] == ["empty-\(c1)"])
            #expect(FileManager.default.fileExists(atPath: scratch))
            let collected = try await fleet.cli(["objects", "gc", "--grace-seconds", "0"])
            #expect(collected.status == 0 && collected.output.contains("removed 1 deltas"), "\(collected.output)")
            #expect(!FileManager.default.fileExists(atPath: scratch))
            #expect(scratchObjects.allSatisfy { !FileManager.default.fileExists(atPath: fleet.data + "/objects/" + $0) })
            let kept = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fleet.data + "/deltas/\(c1)-\(c2)/objects.json"))) as? [[String: Any]] ?? [])
                .compactMap { $0["digest"] as? String }
            #expect(!kept.isEmpty && kept.allSatisfy { FileManager.default.fileExists(atPath: fleet.data + "/objects/" + $0) })
        }
    }

    /// A central archive repo with commit 1 of tree1; tree2 is ready for commit 2.
    static func makeCommit(in work: String, ref: String) async throws -> String {
        try await shell("""
            set -e; mkdir -p \(work) && cd \(work)
            mkdir -p tree1/usr/bin tree1/etc && echo v1 > tree1/etc/os-release
            head -c 3000000 /dev/urandom > tree1/usr/bin/big && seq 1 200000 > tree1/usr/bin/text
            cp -a tree1 tree2 && echo v2 > tree2/etc/os-release && seq 5 200000 > tree2/usr/bin/text && echo new > tree2/usr/bin/added
            ostree init --repo=central --mode=archive
            """)
        return try await shell("cd \(work) && ostree commit --repo=central --branch=\(ref) --subject=v1 --tree=dir=tree1")
    }
}

extension ContentPlaneTests {
    /// Two images from umoci (gzip layers): v2 adds one layer on top of v1's.
    static func makeImages(in work: String) async throws {
        try await shell("""
            set -e; mkdir -p \(work) && cd \(work)
            umoci init --layout app && umoci new --image app:v1
            umoci unpack --rootless --image app:v1 b1 >/dev/null && head -c 400000 /dev/urandom > b1/rootfs/base.bin && umoci repack --image app:v1 b1
            umoci unpack --rootless --image app:v1 b2 >/dev/null && echo two > b2/rootfs/two && umoci repack --image app:v2 b2
            """)
    }

    /// Digests of the objects the agent started to fetch, from its log.
    static func fetched(_ fleet: ProcessFleet) throws -> [String] {
        let logs = try FileManager.default.contentsOfDirectory(atPath: fleet.directory.path).filter { $0.hasPrefix("agent-edge-01-") && $0.hasSuffix(".log") }
        var digests: [String] = []
        for log in logs {
            for line in try String(contentsOfFile: fleet.directory.appending(log), encoding: .utf8).split(separator: "\n") where line.contains("transfer starting") {
                if let range = line.range(of: #"object=sha256:[0-9a-f]{64}"#, options: .regularExpression) { digests.append(String(line[range].dropFirst(14))) }
            }
        }
        return digests
    }

    @Test("images: the site gets an OCI layout skopeo accepts; a second image sharing layers transfers only the new blobs")
    func images() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let work = fleet.directory.appending("img")
            try await Self.makeImages(in: work)
            let state = try await Self.enrolled(fleet, "edge-01")
            for tag in ["v1", "v2"] {
                let imported = try await fleet.cli(["images", "import", "oci:\(work)/app:\(tag)"])
                #expect(imported.status == 0, "\(imported.output)")
            }
            #expect(try await fleet.cli(["images", "list"]).output.contains("app:v2"))
            // The controller's own layout is valid too.
            #expect(try await shell("skopeo inspect oci:\(fleet.data)/oci:app:v1 | head -c 1 ") == "{")

            let first = try await fleet.json(["images", "deploy", "app:v1", "--subcloud", "edge-01"]) as! [[String: Any]]
            #expect(try await Self.waitFor(fleet, "edge-01", deployment: first.first?["id"], state: "activated"))
            let afterFirst = try Self.fetched(fleet)
            #expect(afterFirst.count == 3)  // manifest, config, one layer

            let second = try await fleet.json(["images", "deploy", "app:v2", "--subcloud", "edge-01"]) as! [[String: Any]]
            #expect(try await Self.waitFor(fleet, "edge-01", deployment: second.first?["id"], state: "activated"))
            let newBlobs = try Self.fetched(fleet).count - afterFirst.count
            #expect(newBlobs == 3)  // manifest, config, the new layer: the shared layer is not sent again

            let layout = state + "/images"
            let inspected = try await shell("skopeo inspect oci:\(layout):app:v2")
            #expect(inspected.contains(second.first?["version"] as? String ?? "?"))
            try await shell("skopeo copy --preserve-digests oci:\(layout):app:v2 oci:\(work)/copy:v2 >/dev/null")
            #expect(try await shell("skopeo inspect oci:\(layout):app:v1 >/dev/null && echo ok") == "ok")
            let synced = await eventually(timeout: .seconds(10)) { (try? await fleet.subclouds())?["edge-01"].flatMap { ($0["sync"] as? [String: Any])?["images"] as? String } == "in-sync" }
            #expect(synced)

            // One flipped byte in a blob on the site: skopeo refuses it (the layout is really checked).
            let layer = try await shell("ls -S \(layout)/blobs/sha256 | head -1")
            try await shell("printf 'X' | dd of=\(layout)/blobs/sha256/\(layer) bs=1 seek=100 conv=notrunc 2>/dev/null")
            let broken = try await run("/bin/sh", ["-c", "skopeo copy oci:\(layout):app:v2 oci:\(work)/copy2:v2 2>&1"])
            #expect(broken.status != 0 && broken.output.contains("did not match"), "\(broken.output)")
        }
    }

    @Test("firmware: prestaged first (fetched, nothing run), then activated without a second transfer; the inventory shows the new version")
    func firmwarePrestage() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            let updater = fleet.directory.appending("fw-update")
            let applied = fleet.directory.appending("fw-applied")
            // A stand-in for the vendor tool: records its arguments and writes the new version into the DMI fixture.
            try """
            #!/bin/sh
            set -e
            cmp -s "$3" "\(fleet.directory.appending("bios.cap"))"
            echo "$1 $2" >> \(applied)
            printf '%s\\n' "$2" > \(fleet.directory.appending("sys-edge-01"))/class/dmi/id/bios_version
            """.write(toFile: updater, atomically: true, encoding: .utf8)
            chmod(updater, 0o755)
            _ = try await Self.enrolled(fleet, "edge-01", extra: ["--firmware-command", updater])
            let image = fleet.directory.appending("bios.cap")
            try Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }).write(to: URL(fileURLWithPath: image))
            #expect(try await fleet.cli(["firmware", "import", image, "--component", "bios", "--version", "2.0"]).status == 0)

            let prestage = try await fleet.json(["firmware", "deploy", "bios", "--prestage", "--subcloud", "edge-01"]) as! [[String: Any]]
            #expect(try await Self.waitFor(fleet, "edge-01", deployment: prestage.first?["id"], state: "prestaged"))
            #expect(!FileManager.default.fileExists(atPath: applied))
            #expect(try Self.fetched(fleet).count == 1)

            let activate = try await fleet.json(["firmware", "deploy", "bios", "--subcloud", "edge-01"]) as! [[String: Any]]
            #expect(try await Self.waitFor(fleet, "edge-01", deployment: activate.first?["id"], state: "activated"))
            #expect(try String(contentsOfFile: applied, encoding: .utf8) == "bios 2.0\n")
            #expect(try Self.fetched(fleet).count == 1)  // no second transfer
            let inventory = await eventually(timeout: .seconds(10)) {
                let shown = (try? await fleet.json(["subcloud", "show", "edge-01"])) as? [String: Any]
                return (shown?["firmware"] as? [[String: Any]] ?? []).contains { $0["kind"] as? String == "bios" && $0["version"] as? String == "2.0" }
                    && (shown?["sync"] as? [String: Any])?["firmware"] as? String == "in-sync"
            }
            #expect(inventory)
        }
    }
}

extension ContentPlaneTests {
    @Test("bad content requests are refused with a message that says why, and change nothing")
    func refusals() async throws {
        try await ProcessFleet.with { fleet in
            try await fleet.startController()
            _ = try await fleet.add("edge-01")
            let file = fleet.directory.appending("motd")
            try "hello\n".write(toFile: file, atomically: true, encoding: .utf8)
            let cases: [(arguments: [String], says: String)] = [
                (["config", "set", "--subcloud", "edge-01", "\(file):/etc/../shadow"], "'..' components"),
                (["config", "set", "--subcloud", "edge-01", "\(file):relative/path"], "give the target path"),
                (["config", "set", "--subcloud", "edge-01", "\(file):/etc/mo\ntd"], "control character U+000A"),
                (["config", "set", "--subcloud", "edge-01", "\(file):/etc/motd:999"], "not an octal mode"),
                (["config", "set", "--subcloud", "nowhere", "\(file):/etc/motd"], "no subcloud named"),
                (["config", "set", "--group", "no-such-group", "\(file):/etc/motd"], "no subcloud group"),
                (["config", "set", "--subcloud", "edge-01", "--all", "\(file):/etc/motd"], "exactly one of"),
                (["software", "import", "--repo", fleet.directory.path, "--ref", "tern/os"], "OSTree repository"),
                (["software", "deploy", "tern/os", "--subcloud", "edge-01"], "no ostree release"),
                (["images", "import", "oci:\(fleet.directory.path)/missing:v1"], "not an OCI image layout"),
                (["images", "import", "docker://example/app:v1"], "expected oci:DIR:TAG"),
                (["firmware", "import", fleet.directory.appending("absent.cap"), "--component", "bios", "--version", "2"], "readable file"),
                (["firmware", "deploy", "bios", "--subcloud", "edge-01"], "no firmware release"),
            ]
            for (arguments, says) in cases {
                let result = try await fleet.cli(arguments)
                #expect(result.status != 0, "\(arguments) was accepted")
                #expect(result.output.contains(says), "\(arguments): \(result.output)")
            }
            // Nothing was recorded by any of them.
            let config = try await fleet.json(["config", "show"]) as? [[String: Any]] ?? []
            #expect(config.allSatisfy { $0["desired"] == nil || $0["desired"] is NSNull })
            #expect((try await fleet.json(["deployment", "list"]) as? [Any])?.isEmpty == true)
            #expect((try await fleet.json(["software", "list"]) as? [Any])?.isEmpty == true)
        }
    }
}
