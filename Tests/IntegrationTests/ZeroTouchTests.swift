import Foundation
import TernTestSupport
import Testing

/// Zero-touch install against real parts: sushy-tools as the BMC (Basic auth on),
/// the controller building a real ISO with xorriso, and the node either a local
/// `tern-agent` started from the seed taken out of the very ISO the BMC downloaded,
/// or that ISO booted in qemu.
@Suite("Zero-touch install", .serialized)
struct ZeroTouchTests {
    /// The agent binary boot images carry (scripts/build-boot-agent.sh builds it).
    static var bootAgent: String? {
        if let path = ProcessInfo.processInfo.environment["TERN_BOOT_AGENT"] { return path }
        let path = (ChildProcess.productsDirectory as NSString).deletingLastPathComponent + "/boot/tern-agent"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// One kit cache for the whole run: the agent layer is compressed once.
    static var kitCache: String { (ChildProcess.productsDirectory as NSString).deletingLastPathComponent + "/boot/kit-cache" }

    static func startController(_ fleet: ProcessFleet, extra: [String] = []) async throws {
        let agent = try #require(Self.bootAgent, "no boot agent: run scripts/build-boot-agent.sh (scripts/test.sh does)")
        try await fleet.startController(extra: ["--boot-agent", agent, "--boot-cache", Self.kitCache] + extra)
    }

    /// An OSTree commit and an OCI image imported into the controller; returns the commit.
    static func importContent(_ fleet: ProcessFleet) async throws -> String {
        let work = fleet.directory.appending("content")
        let commit = try await ContentPlaneTests.makeCommit(in: work, ref: "tern/x86_64/os")
        try await ContentPlaneTests.makeImages(in: work)
        #expect(try await fleet.cli(["software", "import", "--repo", work + "/central", "--ref", "tern/x86_64/os"]).status == 0)
        #expect(try await fleet.cli(["images", "import", "oci:\(work)/app:v1"]).status == 0)
        return commit
    }

    static func values(_ fleet: ProcessFleet, extra: String = "") throws -> String {
        let path = fleet.directory.appending("install.yaml")
        try """
            software: {name: tern/x86_64/os}
            images:
              - name: app:v1
            config:
              files:
                - path: /etc/site/role.conf
                  mode: "0640"
                  content: "role=edge\\n"
            boot:
              console: ttyS0,115200
              network: {mode: dhcp, interface: eth0}
            \(extra)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The seed of a boot image, taken out with xorriso and cpio.
    static func extractSeed(_ image: String, into folder: String) async throws -> String {
        try await shell("mkdir -p \(folder) && xorriso -osirrox on -indev \(image) -extract /boot/seed.img \(folder)/seed.cpio 2>/dev/null && cd \(folder) && cpio -i -d --quiet < seed.cpio")
        return folder + "/etc/tern/seed.json"
    }

    static func events(_ fleet: ProcessFleet, _ name: String) async throws -> [String] {
        let events = try await fleet.json(["event", "list"]) as! [[String: Any]]
        return events.filter { $0["subcloud"] as? String == name && $0["kind"] as? String == "install" }.compactMap { $0["detail"] as? String }
    }

    static func deployStatus(_ fleet: ProcessFleet, _ name: String) async throws -> String? {
        try await fleet.subclouds()[name]?["deployStatus"] as? String
    }

    @Test("a site installs from its boot image: statuses in order, content pushed, image served once, token single-use, media ejected, no password anywhere")
    func installsFromSeed() async throws {
        try await ProcessFleet.with { fleet in
            let bmc = try await RedfishEmulator(folder: fleet.directory.appending("bmc"), password: "bmc-Pa55-word")
            defer { Task { await bmc.stop() } }
            try await Self.startController(fleet)
            let commit = try await Self.importContent(fleet)
            try "bmc-Pa55-word\n".write(toFile: fleet.directory.appending("pw"), atomically: true, encoding: .utf8)
            let added = try await fleet.cli([
                "subcloud", "add", "edge-07", "--bmc-address", bmc.address, "--bmc-username", "root",
                "--bmc-password-file", fleet.directory.appending("pw"), "--install-values", try Self.values(fleet), "--install",
            ])
            #expect(added.status == 0 && added.output.contains("subcloud show edge-07 --watch"), "\(added.output)")

            // The harness is the node: it boots what the BMC was told to boot.
            let image = try #require(try await bmc.bootedImage(), "the BMC was never told to boot an image")
            let listing = try await shell("xorriso -indev \(image) -find / -type f 2>/dev/null")
            for file in ["/boot/vmlinuz", "/boot/initrd.img", "/boot/tern-agent.img", "/boot/seed.img", "/isolinux/isolinux.bin"] {
                #expect(listing.contains("'\(file)'"), "\(file) missing from \(listing)")
            }
            #expect(try await shell("file -b \(image)").contains("bootable"))
            let seedPath = try await Self.extractSeed(image, into: fleet.directory.appending("seed"))
            let seed = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: seedPath))) as! [String: Any]
            #expect(seed["site"] as? String == "edge-07")
            // The BMC fetched the image at its URL; that URL is spent now.
            let cd = try await shell("curl -s -u root:bmc-Pa55-word \(bmc.address)\(bmc.system)/VirtualMedia/Cd")
            let url = try #require((try JSONSerialization.jsonObject(with: Data(cd.utf8)) as? [String: Any])?["Image"] as? String)
            #expect(url.hasPrefix("http://127.0.0.1:\(fleet.apiPort)/boot/") && url.hasSuffix(".iso"))
            #expect(try await shell("curl -s -o /dev/null -w '%{http_code}' \(url)") == "404")

            let state = fleet.directory.appending("agent-edge-07")
            let configRoot = fleet.directory.appending("root-edge-07")
            try FileManager.default.createDirectory(atPath: configRoot, withIntermediateDirectories: true)
            let agent = try ChildProcess("tern-agent", [
                "run", "--seed", seedPath, "--state", state, "--sys-root", try fleet.sysRoot(for: "edge-07", biosVersion: "1.0"),
                "--no-fwupd", "--reconnect-cap", "1", "--config-root", configRoot,
            ], outputPath: fleet.directory.appending("agent-edge-07-1.log"))
            fleet.agents["edge-07"] = agent

            let watched = try await run(ChildProcess.productsDirectory + "/tern-controller", ["subcloud", "show", "edge-07", "--watch", "--data", fleet.data], timeout: .seconds(180))
            #expect(watched.status == 0 && watched.output.contains("complete"), "\(watched.output)\n\(agent.output)")
            let events = try await Self.events(fleet, "edge-07")
            let order = ["install-preparing", "installing", "bootstrapping", "deploying", "complete"].map { step in events.firstIndex { $0.hasPrefix(step) } }
            #expect(order.allSatisfy { $0 != nil } && order.map { $0! } == order.map { $0! }.sorted(), "\(events)")

            // What the values asked for is on the site.
            #expect(try String(contentsOfFile: configRoot + "/etc/site/role.conf", encoding: .utf8) == "role=edge\n")
            #expect(try await shell("ostree rev-parse --repo=\(state)/ostree-repo tern/x86_64/os") == commit)
            #expect(try await shell("skopeo inspect oci:\(state)/images:app:v1 >/dev/null && echo ok") == "ok")

            // The seed's token was good once.
            let again = try await fleet.enrol("edge-07", token: seed["token"] as! String, fingerprint: "sha256:" + (seed["ca_fingerprint"] as! String),
                                              extra: ["--force", "--state", fleet.directory.appending("other")])
            #expect(again.status != 0 && again.output.contains("used"), "\(again.output)")
            #expect(await eventually(timeout: .seconds(20)) { (try? await bmc.state().inserted) == false }, "the boot media was not ejected")

            // The BMC password is nowhere but its 0600 file.
            let shown = try await fleet.cli(["subcloud", "show", "edge-07", "--json"]).output + (try await fleet.cli(["subcloud", "show", "edge-07"]).output)
            #expect(!shown.contains("bmc-Pa55-word") && !fleet.controller!.output.contains("bmc-Pa55-word"))
            let attributes = try FileManager.default.attributesOfItem(atPath: fleet.data + "/bmc/edge-07.password")
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        }
    }

    @Test("a prestaged site completes without the OSTree commit or the image travelling again")
    func prestaged() async throws {
        try await ProcessFleet.with { fleet in
            let bmc = try await RedfishEmulator(folder: fleet.directory.appending("bmc"), password: "pw")
            defer { Task { await bmc.stop() } }
            try await Self.startController(fleet)
            let commit = try await Self.importContent(fleet)
            // The node's disks already hold the commit and the image (as a factory prestages them).
            let state = fleet.directory.appending("agent-edge-09")
            let work = fleet.directory.appending("content")
            try await shell("""
                set -e; mkdir -p \(state) && ostree init --repo=\(state)/ostree-repo --mode=bare-user
                ostree pull-local --repo=\(state)/ostree-repo \(work)/central \(commit) >/dev/null
                skopeo copy --preserve-digests oci:\(work)/app:v1 oci:\(state)/images:app:v1 >/dev/null
                """)
            try "pw".write(toFile: fleet.directory.appending("pw"), atomically: true, encoding: .utf8)
            #expect(try await fleet.cli([
                "subcloud", "add", "edge-09", "--bmc-address", bmc.address, "--bmc-username", "root", "--bmc-password-file", fleet.directory.appending("pw"),
                "--install-values", try Self.values(fleet, extra: "prestaged: true"),
            ]).status == 0)
            #expect(try await Self.deployStatus(fleet, "edge-09") == "awaiting-enrolment")
            let started = try await fleet.cli(["subcloud", "install", "edge-09"])
            #expect(started.status == 0, "\(started.output)")
            let image = try #require(try await bmc.bootedImage())
            let seedPath = try await Self.extractSeed(image, into: fleet.directory.appending("seed"))
            let root = fleet.directory.appending("root-edge-09")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            fleet.agents["edge-09"] = try ChildProcess("tern-agent", [
                "run", "--seed", seedPath, "--state", state, "--sys-root", try fleet.sysRoot(for: "edge-09", biosVersion: "1.0"),
                "--no-fwupd", "--reconnect-cap", "1", "--config-root", root,
            ], outputPath: fleet.directory.appending("agent-edge-09-1.log"))
            let complete = await eventually(timeout: .seconds(120), every: .milliseconds(500)) { (try? await Self.deployStatus(fleet, "edge-09")) == "complete" }
            let history = try await Self.events(fleet, "edge-09")
            #expect(complete, "\(history)\n\(fleet.agents["edge-09"]!.output)")
            // Only the config bundle travelled: no delta, no image blob.
            let log = fleet.agents["edge-09"]!.output
            let transfers = log.split(separator: "\n").filter { $0.contains("transfer starting") }
            #expect(transfers.count <= 1, "\(transfers)")
            #expect(try await shell("ostree rev-parse --repo=\(state)/ostree-repo tern/x86_64/os") == commit)
        }
    }

    @Test("failures say why: wrong BMC password → install-failed naming 401; unreachable BMC; retried install; install timeout; an expired seed stops the agent")
    func failures() async throws {
        try await ProcessFleet.with { fleet in
            let bmc = try await RedfishEmulator(folder: fleet.directory.appending("bmc"), password: "right")
            defer { Task { await bmc.stop() } }
            try await Self.startController(fleet)
            try "wrong".write(toFile: fleet.directory.appending("wrong"), atomically: true, encoding: .utf8)
            try "right".write(toFile: fleet.directory.appending("right"), atomically: true, encoding: .utf8)
            let values = fleet.directory.appending("values.json")
            try #"{"boot_timeout_seconds": 10}"#.write(toFile: values, atomically: true, encoding: .utf8)
            #expect(try await fleet.cli([
                "subcloud", "add", "edge-x", "--bmc-address", bmc.address, "--bmc-username", "root", "--bmc-password-file", fleet.directory.appending("wrong"),
                "--install-values", values, "--install",
            ]).status == 0)
            let watched = try await run(ChildProcess.productsDirectory + "/tern-controller", ["subcloud", "show", "edge-x", "--watch", "--data", fleet.data], timeout: .seconds(120))
            #expect(watched.status == 1 && watched.output.contains("install-failed") && watched.output.contains("401"), "\(watched.output)")

            // A BMC that does not answer.
            #expect(try await fleet.cli([
                "subcloud", "add", "edge-y", "--bmc-address", "http://127.0.0.1:1", "--bmc-username", "root", "--bmc-password-file", fleet.directory.appending("right"),
                "--install-values", values, "--install",
            ]).status == 0)
            let unreachable = await eventually(timeout: .seconds(120), every: .milliseconds(500)) { (try? await Self.deployStatus(fleet, "edge-y")) == "install-failed" }
            #expect(unreachable)
            #expect(try await fleet.cli(["subcloud", "show", "edge-y"]).output.contains("unreachable"))

            // Retried with the right password: the BMC boots the image; nobody enrols → install timeout.
            let retried = try await fleet.cli(["subcloud", "install", "edge-x", "--bmc-address", bmc.address, "--bmc-username", "root",
                                               "--bmc-password-file", fleet.directory.appending("right")])
            #expect(retried.status == 0 && retried.output.contains("attempt 2"), "\(retried.output)")
            let image = try #require(try await bmc.bootedImage())
            let timedOut = await eventually(timeout: .seconds(120), every: .milliseconds(500)) { (try? await Self.deployStatus(fleet, "edge-x")) == "install-failed" }
            #expect(timedOut)
            let history = try await Self.events(fleet, "edge-x")
            #expect(history.last?.contains("install timeout") == true, "\(history)")

            // A seed whose token has expired: the agent says so and stops (78) without trying.
            let seedPath = try await Self.extractSeed(image, into: fleet.directory.appending("seed"))
            var seed = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: seedPath))) as! [String: Any]
            seed["token_expires_at"] = "2020-01-01T00:00:00Z"
            try JSONSerialization.data(withJSONObject: seed).write(to: URL(fileURLWithPath: seedPath))
            let expired = try await run(ChildProcess.productsDirectory + "/tern-agent", ["run", "--seed", seedPath, "--state", fleet.directory.appending("state-x")])
            #expect(expired.status == 78 && expired.output.contains("expired"), "\(expired.output)")
            #expect(!FileManager.default.fileExists(atPath: fleet.directory.appending("state-x") + "/identity.pem"))
        }
    }

    // One real machine per run: qemu (TCG, no KVM needed) boots the ISO the emulated BMC
    // was handed. ~35 s here. TERN_QEMU_TESTS=0 skips it (e.g. on a machine without qemu).
    @Test("a qemu machine boots the ISO the BMC was given, enrols from inside, and is driven to complete (config and an OCI image; OSTree is covered by the local-process tests)",
          .enabled(if: ProcessInfo.processInfo.environment["TERN_QEMU_TESTS"] != "0"))
    func qemuBoot() async throws {
        try await ProcessFleet.with { fleet in
            let bmc = try await RedfishEmulator(folder: fleet.directory.appending("bmc"), password: "qemu-bmc")
            defer { Task { await bmc.stop() } }
            // The guest reaches the host's loopback as 10.0.2.2 (qemu user networking).
            try await Self.startController(fleet, extra: ["--server-name", "localhost", "--server-name", "10.0.2.2", "--install-address", "10.0.2.2"])
            let work = fleet.directory.appending("content")
            try await ContentPlaneTests.makeImages(in: work)
            #expect(try await fleet.cli(["images", "import", "oci:\(work)/app:v1"]).status == 0)
            let values = fleet.directory.appending("install.yaml")
            try """
                images: [{name: "app:v1"}]
                config:
                  files: [{path: /etc/site/role.conf, content: "role=edge"}]
                boot: {console: "ttyS0,115200"}
                boot_timeout_seconds: 240
                """.write(toFile: values, atomically: true, encoding: .utf8)
            try "qemu-bmc".write(toFile: fleet.directory.appending("pw"), atomically: true, encoding: .utf8)
            let started = ContinuousClock.now
            #expect(try await fleet.cli([
                "subcloud", "add", "edge-q", "--bmc-address", bmc.address, "--bmc-username", "root", "--bmc-password-file", fleet.directory.appending("pw"),
                "--install-values", values, "--install",
            ]).status == 0)
            let image = try #require(try await bmc.bootedImage())
            let console = fleet.directory.appending("console.log")
            let qemu = try ChildProcess("/usr/bin/qemu-system-x86_64", [
                "-accel", "tcg", "-m", "512", "-smp", "1", "-display", "none", "-monitor", "none", "-serial", "file:" + console, "-no-reboot",
                "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=", "-cdrom", image, "-boot", "d",
            ], outputPath: fleet.directory.appending("qemu.log"))
            defer { qemu.signal(SIGKILL) }
            let complete = await eventually(timeout: .seconds(300), every: .seconds(1)) {
                let status = try? await Self.deployStatus(fleet, "edge-q")
                return status == "complete" || status == "deploy-failed" || status == "install-failed"
            }
            let consoleText = (try? String(contentsOfFile: console, encoding: .utf8)) ?? ""
            let history = try await Self.events(fleet, "edge-q")
            let final = try await Self.deployStatus(fleet, "edge-q")
            #expect(complete && final == "complete", "\(history)\nconsole:\n\(consoleText.suffix(4000))")
            #expect(consoleText.contains("tern: starting the agent for site edge-q"))
            let subcloud = try #require(try await fleet.subclouds()["edge-q"])
            #expect((subcloud["sync"] as? [String: Any])?["images"] as? String == "in-sync")
            #expect((subcloud["sync"] as? [String: Any])?["config"] as? String == "in-sync")
            print("qemu install: \(ContinuousClock.now - started) from subcloud add to complete; \(history)")
        }
    }
}
