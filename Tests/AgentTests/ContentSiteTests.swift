import Foundation
import TernTestSupport
import Testing
import Wire

@testable import Agent
import Platform

@Suite("Applying content on the site")
struct ContentSiteTests {
    @Test("a delta with a corrupted part is rejected by ostree and the site's ref, objects and fsck are unchanged")
    func corruptedPart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let work = directory.path
        let ref = "tern/x86_64/os"
        try await shell("""
            set -e; cd \(work)
            mkdir -p t1/usr t2/usr && seq 1 100000 > t1/usr/a && head -c 500000 /dev/urandom > t1/usr/b
            cp -a t1/. t2/ && seq 3 100000 > t2/usr/a && head -c 300000 /dev/urandom > t2/usr/c
            ostree init --repo=central --mode=archive
            """)
        let c1 = try await shell("cd \(work) && ostree commit --repo=central --branch=\(ref) --subject=v1 --tree=dir=t1")
        let c2 = try await shell("cd \(work) && ostree commit --repo=central --branch=\(ref) --subject=v2 --tree=dir=t2")
        try await shell("""
            set -e; cd \(work) && mkdir d1 d2
            ostree static-delta generate --repo=central --empty --to=\(c1) --min-fallback-size=0 --filename=\(work)/d1/superblock >/dev/null
            ostree static-delta generate --repo=central --from=\(c1) --to=\(c2) --min-fallback-size=0 --filename=\(work)/d2/superblock >/dev/null
            """)
        var configuration = AgentConfiguration(stateDirectory: work + "/agent", controllerHost: "127.0.0.1", controllerPort: 1)
        configuration.ostreeRepository = work + "/agent/repo"
        let site = OSTreeSite(configuration: configuration)
        try await site.apply(ref: ref, commit: c1, superblock: work + "/d1/superblock", parts: Self.parts(work + "/d1"), id: 1)
        #expect(await site.commit(of: ref) == c1)

        // Flip one byte in the middle of each part of the second delta.
        let parts = Self.parts(work + "/d2")
        try #require(!parts.isEmpty)
        for part in parts {
            let handle = try #require(FileHandle(forUpdatingAtPath: part))
            let size = try handle.seekToEnd()
            try handle.seek(toOffset: size / 2)
            let byte = try handle.read(upToCount: 1)!.first!
            try handle.seek(toOffset: size / 2)
            try handle.write(contentsOf: [byte ^ 0xff])
            try handle.close()
        }
        await #expect(throws: HostCommand.Failure.self) {
            try await site.apply(ref: ref, commit: c2, superblock: work + "/d2/superblock", parts: parts, id: 2)
        }
        #expect(await site.commit(of: ref) == c1)
        try await shell("ostree fsck --repo=\(work)/agent/repo >/dev/null 2>&1")
        try await shell("ostree checkout --repo=\(work)/agent/repo -U \(ref) \(work)/out && diff -r \(work)/t1 \(work)/out")
        #expect(await site.refs().map(\.commit) == [c1])
    }

    @Test("with a sysroot, the commit is applied to the sysroot's repository and deployed (ostree admin deploy)")
    func sysrootDeploy() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let work = directory.path
        let ref = "tern/x86_64/os"
        try await shell("""
            set -e; cd \(work) && mkdir -p tree/usr/bin tree/usr/etc tree/usr/lib/modules/6.1.0 d sysroot
            printf 'ID=tern\\nPRETTY_NAME="Tern edge OS"\\nVERSION_ID=1\\n' > tree/usr/etc/os-release && seq 1 1000 > tree/usr/bin/tool
            echo kernel > tree/usr/lib/modules/6.1.0/vmlinuz && echo initramfs > tree/usr/lib/modules/6.1.0/initramfs.img
            ostree init --repo=central --mode=archive
            ostree admin init-fs sysroot >/dev/null && ostree admin --sysroot=sysroot os-init tern >/dev/null
            """)
        let commit = try await shell("cd \(work) && ostree commit --repo=central --branch=\(ref) --subject=v1 --tree=dir=tree")
        try await shell("ostree static-delta generate --repo=\(work)/central --empty --to=\(commit) --min-fallback-size=0 --filename=\(work)/d/superblock >/dev/null")
        var configuration = AgentConfiguration(stateDirectory: work + "/agent", controllerHost: "127.0.0.1", controllerPort: 1)
        configuration.ostreeSysroot = work + "/sysroot"
        let site = OSTreeSite(configuration: configuration)
        try await site.apply(ref: ref, commit: commit, superblock: work + "/d/superblock", parts: Self.parts(work + "/d"), id: 1)
        #expect(await site.commit(of: ref) == commit)
        let status = try await shell("ostree admin --sysroot=\(work)/sysroot status")
        #expect(status.contains(commit), "\(status)")
        let deployed = try FileManager.default.contentsOfDirectory(atPath: work + "/sysroot/ostree/deploy/tern/deploy").filter { $0.hasPrefix(commit) && !$0.hasSuffix(".origin") }
        #expect(deployed.count == 1)
    }

    static func parts(_ directory: String) -> [String] {
        var parts: [String] = []
        while FileManager.default.fileExists(atPath: "\(directory)/\(parts.count)") { parts.append("\(directory)/\(parts.count)") }
        return parts
    }

    @Test("config: a generation committed to its journal and cut off before the renames is finished at the next start; one not committed leaves the old files")
    func configJournal() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = AgentConfiguration(stateDirectory: directory.appending("state"), controllerHost: "127.0.0.1", controllerPort: 1)
        configuration.configRoot = directory.appending("root")
        let site = ConfigSite(configuration: configuration)
        let one = ConfigBundle(generation: 1, files: [
            .init(path: "/etc/a.conf", mode: 0o644, content: Data("a1\n".utf8)), .init(path: "/etc/b/b.conf", mode: 0o600, content: Data("b1\n".utf8)),
        ], reload: nil)
        try site.apply(one, digest: ContentDigest(of: try one.encoded()))
        #expect(try String(contentsOfFile: directory.appending("root/etc/a.conf"), encoding: .utf8) == "a1\n")
        #expect(site.applied()?.generation == 1 && site.drift().isEmpty)

        // Generation 2 staged and journaled, then the process dies before any rename:
        // simulate by applying, then putting back the old files and the staged ones and the journal.
        let two = ConfigBundle(generation: 2, files: [
            .init(path: "/etc/a.conf", mode: 0o644, content: Data("a2\n".utf8)), .init(path: "/etc/b/b.conf", mode: 0o600, content: Data("b2\n".utf8)),
        ], reload: nil)
        let stateBefore = try FileManager.default.contentsOfDirectory(atPath: directory.appending("state/config"))
        try site.apply(two, digest: ContentDigest(of: try two.encoded()))
        let journal = ConfigJournalFixture(root: directory.appending("root"), state: directory.appending("state/config"))
        try journal.rewind(to: ["/etc/a.conf": "a1\n", "/etc/b/b.conf": "b1\n"], staged: ["/etc/a.conf": "a2\n", "/etc/b/b.conf": "b2\n"], generation: 2, applied: two, site: site)
        #expect(stateBefore.contains("applied.json"))
        #expect(try String(contentsOfFile: directory.appending("root/etc/a.conf"), encoding: .utf8) == "a1\n")
        try ConfigSite(configuration: configuration).recover()
        #expect(try String(contentsOfFile: directory.appending("root/etc/a.conf"), encoding: .utf8) == "a2\n")
        #expect(try String(contentsOfFile: directory.appending("root/etc/b/b.conf"), encoding: .utf8) == "b2\n")
        #expect(site.applied()?.generation == 2)
        #expect(!FileManager.default.fileExists(atPath: directory.appending("state/config/journal.json")))

        // A path that escapes the root is refused before anything is written.
        let bad = ConfigBundle(generation: 3, files: [
            .init(path: "/etc/a.conf", mode: 0o644, content: Data("a3\n".utf8)), .init(path: "/etc/../../escape", mode: 0o644, content: Data()),
        ], reload: nil)
        #expect(throws: DeployFailure.self) { try site.apply(bad, digest: ContentDigest(of: try bad.encoded())) }
        #expect(try String(contentsOfFile: directory.appending("root/etc/a.conf"), encoding: .utf8) == "a2\n")
        #expect(site.applied()?.generation == 2)

        // A NUL or another control character: the file system would write another path
        // than the one shown ("/etc/motd\0.d" is "/etc/motd"). Refused, nothing written.
        for path in ["/etc/motd\u{0}.d/x", "/etc/a\nb.conf", "/etc/a\u{1b}[2J.conf", "/etc/\u{85}x"] {
            let control = ConfigBundle(generation: 4, files: [
                .init(path: "/etc/a.conf", mode: 0o644, content: Data("a4\n".utf8)), .init(path: path, mode: 0o644, content: Data("x".utf8)),
            ], reload: nil)
            #expect(throws: DeployFailure.self, "\(path.debugDescription)") { try site.apply(control, digest: ContentDigest(of: try control.encoded())) }
            #expect(ConfigBundle.problem(with: path)?.contains("control character") == true)
        }
        #expect(!FileManager.default.fileExists(atPath: directory.appending("root/etc/motd")))
        #expect(try String(contentsOfFile: directory.appending("root/etc/a.conf"), encoding: .utf8) == "a2\n")
        #expect(site.applied()?.generation == 2)
        #expect(ConfigBundle.problem(with: "/etc/ok-ünïcode.conf") == nil)
    }
}

extension ContentSiteTests {
    @Test("config: staged files of a generation killed while staging are removed at the next start, and a newer generation leaves none")
    func stagedLeftovers() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = AgentConfiguration(stateDirectory: directory.appending("state"), controllerHost: "127.0.0.1", controllerPort: 1)
        configuration.configRoot = directory.appending("root")
        let site = ConfigSite(configuration: configuration)
        let one = ConfigBundle(generation: 1, files: [.init(path: "/etc/a.conf", mode: 0o644, content: Data("a1\n".utf8))], reload: nil)
        try site.apply(one, digest: ContentDigest(of: try one.encoded()))
        // Generation 2 staged in two directories, then the process dies before its journal.
        let two = ConfigBundle(generation: 2, files: [
            .init(path: "/etc/a.conf", mode: 0o644, content: Data("a2\n".utf8)), .init(path: "/opt/app/b.conf", mode: 0o600, content: Data("b2\n".utf8)),
        ], reload: nil)
        let staged = try site.stage(two)
        #expect(staged.allSatisfy { FileManager.default.fileExists(atPath: $0.from) })
        // The next start: old files, and no staged file left.
        try ConfigSite(configuration: configuration).recover()
        #expect(staged.allSatisfy { !FileManager.default.fileExists(atPath: $0.from) })
        #expect(try String(contentsOfFile: directory.appending("root/etc/a.conf"), encoding: .utf8) == "a1\n")
        // Killed while staging again, and this time a newer generation arrives before any restart.
        _ = try site.stage(two)
        let three = ConfigBundle(generation: 3, files: [.init(path: "/etc/a.conf", mode: 0o644, content: Data("a3\n".utf8))], reload: nil)
        try site.apply(three, digest: ContentDigest(of: try three.encoded()))
        let leftovers = try Self.stagedFiles(under: directory.appending("root"))
        #expect(leftovers.isEmpty, "\(leftovers)")
        #expect(try String(contentsOfFile: directory.appending("root/etc/a.conf"), encoding: .utf8) == "a3\n")
    }

    static func stagedFiles(under root: String) throws -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).filter { ($0 as NSString).lastPathComponent.hasPrefix(".tern-") }
    }
}

/// Puts a config directory back into the state a kill between the journal write and the renames leaves.
struct ConfigJournalFixture {
    let root: String
    let state: String

    func rewind(to old: [String: String], staged: [String: String], generation: UInt64, applied: ConfigBundle, site: ConfigSite) throws {
        var renames: [[String: String]] = []
        for (path, content) in staged {
            let target = self.root + path
            let parent = (target as NSString).deletingLastPathComponent
            let temporary = parent + "/.tern-\(generation)-" + (target as NSString).lastPathComponent
            try content.write(toFile: temporary, atomically: false, encoding: .utf8)
            try old[path]!.write(toFile: target, atomically: false, encoding: .utf8)
            renames.append(["from": temporary, "to": target])
        }
        let appliedRecord: [String: Any] = [
            "generation": generation, "bundle": ContentDigest(of: try applied.encoded()).hex,
            "files": applied.files.map { ["path": $0.path, "sha256": ContentDigest(of: Array($0.content)).hex] },
        ]
        let journal: [String: Any] = ["applied": appliedRecord, "renames": renames]
        try JSONSerialization.data(withJSONObject: journal).write(to: URL(fileURLWithPath: self.state + "/journal.json"))
    }
}
