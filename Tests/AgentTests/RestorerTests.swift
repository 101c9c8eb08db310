import Foundation
import Logging
import Platform
import TernTestSupport
import Testing

@testable import Agent

/// The restore's refusals, against archives made to attack it (Python's tarfile
/// writes what GNU tar would not), and its recovery after a kill.
@Suite("Restorer")
struct RestorerTests {
    let directory: TemporaryDirectory
    var site: String { self.directory.appending("site") }
    var outside: String { self.directory.appending("outside") }

    init() throws {
        self.directory = try TemporaryDirectory(prefix: "tern-restorer")
    }

    var restorer: Restorer {
        Restorer(stateDirectory: self.directory.appending("state"), allowDevices: false, logger: Logger(label: "test"))
    }

    func manifest(paths: [String]) -> BackupManifest {
        BackupManifest(
            backupID: 7, site: "edge", createdAt: Date(), agentVersion: "test", paths: paths, excludes: [], localOnly: false,
            ostree: nil, images: [], configGeneration: nil, firmware: [], archive: .init(sha256: String(repeating: "0", count: 64), size: 0), chunks: []
        )
    }

    /// An archive whose members `script` adds (Python: `t` is the open tarfile, `add(name, **fields)` adds one).
    func archive(_ script: String) async throws -> String {
        let path = self.directory.appending("attack.tar")
        let root = String(self.site.dropFirst())
        try await shell("""
            python3 - <<'PY'
            import io, tarfile
            t = tarfile.open('\(path)', 'w', format=tarfile.GNU_FORMAT)
            root = '\(root)'
            def add(name, data=b'x', **fields):
                info = tarfile.TarInfo(name)
                for key, value in fields.items(): setattr(info, key, value)
                info.size = len(data) if info.type == tarfile.REGTYPE else 0
                t.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
            add(root, type=tarfile.DIRTYPE, mode=0o755)
            add(root + '/good.conf', b'good')
            \(script)
            t.close()
            PY
            """)
        return path
    }

    /// The site as it was before the attempted restore, and nothing beside it or outside.
    func expectUntouched(_ comment: Comment) throws {
        #expect(try String(contentsOfFile: self.site + "/current.conf", encoding: .utf8) == "current", comment)
        #expect(!FileManager.default.fileExists(atPath: self.site + "/good.conf"), comment)
        let beside = try FileManager.default.contentsOfDirectory(atPath: self.directory.path).filter { $0.hasPrefix(".tern-") }
        #expect(beside.isEmpty, "staging left behind: \(beside)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: self.outside)) ?? [] == [], "something was written outside")
    }

    func prepare() throws {
        try FileManager.default.createDirectory(atPath: self.site, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: self.outside, withIntermediateDirectories: true)
        try "current".write(toFile: self.site + "/current.conf", atomically: true, encoding: .utf8)
    }

    @Test("refused, with nothing written outside staging: .. in a name, a member outside the backup's paths, absolute and relative symlinks out of the tree, a device file")
    func refusals() async throws {
        try self.prepare()
        let attacks: [(String, String)] = [
            ("add(root + '/../outside/escaped', b'pwned')", "climbs out"),
            ("add('\(String(self.outside.dropFirst()))/planted', b'pwned')", "outside the backup's paths"),
            ("add(root + '/link', type=tarfile.SYMTYPE, linkname='\(self.outside)'); add(root + '/link/pwned', b'pwned')", "outside"),
            ("add(root + '/rel', type=tarfile.SYMTYPE, linkname='../outside')", "symlink"),
            ("add(root + '/dev0', type=tarfile.CHRTYPE, devmajor=1, devminor=3)", "device file"),
        ]
        for (script, reason) in attacks {
            let archive = try await self.archive(script)
            do {
                try await self.restorer.restore(self.manifest(paths: [self.site]), archive: archive)
                Issue.record("restored an archive with: \(script)")
            } catch {
                #expect("\(error)".contains(reason) || error is HostCommand.Failure, "\(script): \(error)")
            }
            try self.expectUntouched("after \(script)")
        }
        // The same archive without an attack goes in whole.
        try await self.restorer.restore(self.manifest(paths: [self.site]), archive: try await self.archive("add(root + '/sub/ok.conf', b'ok')"))
        #expect(try String(contentsOfFile: self.site + "/good.conf", encoding: .utf8) == "good")
        #expect(try String(contentsOfFile: self.site + "/sub/ok.conf", encoding: .utf8) == "ok")
        #expect(!FileManager.default.fileExists(atPath: self.site + "/current.conf"), "the restore replaces the tree, it does not merge")
    }

    @Test("a process killed after the journal was written is finished at start; one killed before it leaves the old tree and loses its staging")
    func recovery() throws {
        try self.prepare()
        let state = self.directory.appending("state/restore")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        // Killed while staging: staging.json names the staging folder; no journal.
        let staging = self.directory.appending(".tern-restore-7-site")
        try FileManager.default.createDirectory(atPath: staging + self.site, withIntermediateDirectories: true)
        try "half".write(toFile: staging + self.site + "/good.conf", atomically: true, encoding: .utf8)
        try JSONEncoder().encode([staging]).write(to: URL(fileURLWithPath: state + "/staging.json"))
        try self.restorer.recover()
        try self.expectUntouched("after recovering an uncommitted restore")

        // Killed after the journal and the first rename: the next start finishes the swap.
        try FileManager.default.createDirectory(atPath: staging + self.site, withIntermediateDirectories: true)
        try "new".write(toFile: staging + self.site + "/good.conf", atomically: true, encoding: .utf8)
        let old = self.directory.appending(".tern-old-7-site")
        #expect(rename(self.site, old) == 0)
        let step = Restorer.Step(target: self.site, new: staging + self.site, old: old, staging: staging)
        try JSONEncoder().encode([step]).write(to: URL(fileURLWithPath: state + "/journal.json"))
        try self.restorer.recover()
        #expect(try String(contentsOfFile: self.site + "/good.conf", encoding: .utf8) == "new")
        #expect(!FileManager.default.fileExists(atPath: old) && !FileManager.default.fileExists(atPath: staging))
        #expect(!FileManager.default.fileExists(atPath: state + "/journal.json"))
    }
}
