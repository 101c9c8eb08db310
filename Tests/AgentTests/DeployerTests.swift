import Foundation
import Logging
import TernTestSupport
import Testing
import Wire

@testable import Agent
import Platform

@Suite("Deployer")
struct DeployerTests {
    /// A minimal OCI image: config and one layer, with its manifest.
    struct Image {
        var blobs: [(role: String, bytes: [UInt8])]
        var manifestDigest: String { "sha256:" + ContentDigest(of: self.blobs[0].bytes).hex }

        init(layer: String) {
            let config = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
            let layerBytes = Array(layer.utf8)
            let manifest = """
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\(ContentDigest(of: config).hex)","size":\(config.count)},\
            "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:\(ContentDigest(of: layerBytes).hex)","size":\(layerBytes.count)}]}
            """
            self.blobs = [("manifest", Array(manifest.utf8)), ("config", config), ("layer/0", layerBytes)]
        }

        func deploy(id: UInt64) -> Deploy {
            Deploy(
                deploymentID: id, kind: "image", name: "app:latest", version: self.manifestDigest,
                objects: self.blobs.map { ObjectRef(digest: ContentDigest(of: $0.bytes), size: UInt64($0.bytes.count), blockSize: 1 << 20, role: $0.role) },
                activate: true
            )
        }
    }

    /// An agent's deployment side on a temporary state directory, without a connection
    /// (what it would send is kept in its outbox).
    struct Site {
        let directory: TemporaryDirectory
        let transfers: Transfers
        let outbox = Outbox()
        let work = BackgroundWork(logger: Logger(label: "test"), atShutdown: .cancelRunning)
        let deployer: Deployer

        init(_ directory: TemporaryDirectory, transfers: Transfers? = nil) throws {
            self.directory = directory
            let logger = Logger(label: "test")
            let configuration = AgentConfiguration(stateDirectory: directory.path, controllerHost: "127.0.0.1", controllerPort: 1)
            self.transfers = try transfers ?? Transfers(stateDirectory: directory.path, logger: logger)
            self.deployer = try Deployer(
                configuration: configuration, transfers: self.transfers, outbox: self.outbox, work: self.work, firmwareInventory: { nil }, logger: logger
            )
        }

        /// Runs `body` with the site's background work running beside it, as the link runs it.
        func running(_ body: () async throws -> Void) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.work.run() }
                try await body()
                group.cancelAll()
            }
        }

        /// Puts a verified object in the transfer store, as a finished transfer would.
        func place(_ bytes: [UInt8]) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: self.objectPath(bytes)))
        }

        func objectPath(_ bytes: [UInt8]) -> String { self.directory.appending("transfers/objects/" + ContentDigest(of: bytes).hex) }

        /// Whether the site reported `status` for deployment `id` (with `version`, and a detail containing `detail`).
        func reported(_ id: UInt64, _ status: DeployStatus.Status, version: String? = nil, detail: String = "") async -> Bool {
            await eventually {
                await self.outbox.kept.contains { message in
                    guard case .deployStatus(let report) = message else { return false }
                    return report.deploymentID == id && report.status == status && (version == nil || report.version == version)
                        && (detail.isEmpty || report.detail.contains(detail))
                }
            }
        }
    }

    @Test("an older deployment whose objects arrive after a newer one applied is refused as superseded; the newer content stays")
    func supersededDeploymentDoesNotUndo() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let site = try Site(directory)
        try await site.running {
            let older = Image(layer: "older layer")
            let newer = Image(layer: "newer layer")
            // The older deployment has only its config so far; the newer one has everything.
            try site.place(older.blobs[1].bytes)
            for blob in newer.blobs { try site.place(blob.bytes) }
            await site.deployer.received(older.deploy(id: 5))
            await site.deployer.received(newer.deploy(id: 6))
            let layout = OCILayout(root: directory.appending("images"))
            let newerTagged = await eventually { (try? layout.manifestDescriptor(tag: "app:latest"))?.digest == newer.manifestDigest }
            #expect(newerTagged)

            // The older one's objects arrive (the controller repeats its DEPLOY after a reconnect).
            for blob in older.blobs { try site.place(blob.bytes) }
            await site.deployer.received(older.deploy(id: 5))
            #expect(await site.reported(5, .failed, detail: "superseded by deployment 6"))
            #expect(try layout.manifestDescriptor(tag: "app:latest").digest == newer.manifestDigest)
            // The newer one reported itself activated with its manifest.
            #expect(await site.reported(6, .activated, version: newer.manifestDigest))
        }
    }
}

extension DeployerTests {
    @Test("an object the controller does not have fails the deployment waiting for it, and nothing is applied")
    func unavailableObjectFailsDeployment() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let site = try Site(directory)
        try await site.running {
            let image = Image(layer: "a layer the controller lost")
            // Manifest and config are here; the layer is asked for, and the controller says it has none.
            for blob in image.blobs.prefix(2) { try site.place(blob.bytes) }
            await site.deployer.received(image.deploy(id: 9))
            await site.transfers.unavailable(ContentDigest(of: image.blobs[2].bytes), reason: "no such object")
            #expect(await site.reported(9, .failed, detail: "not available"))
            #expect(!FileManager.default.fileExists(atPath: directory.appending("images/index.json")))
        }
    }
}

extension DeployerTests {
    @Test("a prestage replaced by a newer deployment of the same name lets go of the objects the newer one does not use, also after a restart")
    func replacedPrestageReleasesObjects() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = Image(layer: "prestaged, never activated")
        let second = Image(layer: "what was deployed instead")
        var prestage = first.deploy(id: 3)
        prestage.activate = false
        let before = try Site(directory)
        for blob in first.blobs + second.blobs { try before.place(blob.bytes) }
        try await before.running {
            await before.deployer.received(prestage)
            #expect(await before.reported(3, .prestaged))
        }
        // A restart, then the newer deployment of the same name.
        let site = try Site(directory, transfers: before.transfers)
        try await site.running {
            await site.deployer.received(second.deploy(id: 4))
            #expect(!FileManager.default.fileExists(atPath: site.objectPath(first.blobs[0].bytes)))  // its manifest
            #expect(!FileManager.default.fileExists(atPath: site.objectPath(first.blobs[2].bytes)))  // its layer
            #expect(await site.reported(4, .activated))
        }
        // The config blob both images share was used by the newer one.
        #expect(OCILayout(root: directory.appending("images")).hasBlob(ContentDigest(of: second.blobs[1].bytes).hex))
    }
}

extension DeployerTests {
    @Test("at shutdown a deployment waiting for its objects ends without a verdict: nothing reported failed, nothing applied, the wait released")
    func shutdownCancelsWaitingDeployment() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let site = try Site(directory)
        let image = Image(layer: "a layer still on its way")
        for blob in image.blobs.prefix(2) { try site.place(blob.bytes) }
        try await site.running {
            await site.deployer.received(image.deploy(id: 12))
            #expect(await site.reported(12, .fetching))
        }
        // `running` returned: the work service ended, so the waiting deployment did too.
        let reports = await site.outbox.kept.compactMap { message -> DeployStatus? in
            if case .deployStatus(let report) = message, report.deploymentID == 12 { return report } else { return nil }
        }
        #expect(reports.map(\.status) == [.fetching], "\(reports)")
        #expect(!FileManager.default.fileExists(atPath: directory.appending("images/index.json")))
        // Not recorded as finished: the controller's repeat of the deployment after a restart is taken afresh.
        let restarted = try Site(directory, transfers: site.transfers)
        try await restarted.running {
            for blob in image.blobs { try restarted.place(blob.bytes) }
            await restarted.deployer.received(image.deploy(id: 12))
            #expect(await restarted.reported(12, .activated))
        }
    }
}
