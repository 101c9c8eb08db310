import Foundation
import Logging
import TernTestSupport
import Testing
import Wire

@testable import Agent

@Suite("Deployer")
struct DeployerTests {
    /// A minimal OCI image: config and one layer, with its manifest.
    struct Image {
        var blobs: [(role: String, bytes: [UInt8])]
        var manifestDigest: String { "sha256:" + Digest(of: self.blobs[0].bytes).hex }

        init(layer: String) {
            let config = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
            let layerBytes = Array(layer.utf8)
            let manifest = """
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\(Digest(of: config).hex)","size":\(config.count)},\
            "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:\(Digest(of: layerBytes).hex)","size":\(layerBytes.count)}]}
            """
            self.blobs = [("manifest", Array(manifest.utf8)), ("config", config), ("layer/0", layerBytes)]
        }

        func deploy(id: UInt64) -> Deploy {
            Deploy(
                deploymentID: id, kind: "image", name: "app:latest", version: self.manifestDigest,
                objects: self.blobs.map { Deploy.ObjectRef(digest: Digest(of: $0.bytes), size: UInt64($0.bytes.count), blockSize: 1 << 20, role: $0.role) },
                activate: true
            )
        }
    }

    @Test("an older deployment whose objects arrive after a newer one applied is refused as superseded; the newer content stays")
    func supersededDeploymentDoesNotUndo() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let configuration = AgentConfiguration(stateDirectory: directory.path, controllerHost: "127.0.0.1", controllerPort: 1)
        let logger = Logger(label: "test")
        let transfers = try Transfers(stateDirectory: directory.path, logger: logger)
        let outbox = Outbox()
        let deployer = try Deployer(configuration: configuration, transfers: transfers, outbox: outbox, firmwareInventory: { nil }, logger: logger)
        func place(_ bytes: [UInt8]) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: directory.appending("transfers/objects/" + Digest(of: bytes).hex)))
        }
        let older = Image(layer: "older layer")
        let newer = Image(layer: "newer layer")
        // The older deployment has only its config so far; the newer one has everything.
        try place(older.blobs[1].bytes)
        for blob in newer.blobs { try place(blob.bytes) }
        await deployer.received(older.deploy(id: 5))
        await deployer.received(newer.deploy(id: 6))
        let layout = OCILayout(root: directory.appending("images"))
        let newerTagged = await eventually { (try? layout.manifestDescriptor(tag: "app:latest"))?.digest == newer.manifestDigest }
        #expect(newerTagged)

        // The older one's objects arrive (the controller repeats its DEPLOY after a reconnect).
        for blob in older.blobs { try place(blob.bytes) }
        await deployer.received(older.deploy(id: 5))
        let refused = await eventually {
            await outbox.kept.contains { message in
                guard case .deployStatus(let status) = message else { return false }
                return status.deploymentID == 5 && status.status == .failed && status.detail.contains("superseded by deployment 6")
            }
        }
        #expect(refused)
        #expect(try layout.manifestDescriptor(tag: "app:latest").digest == newer.manifestDigest)
        // The newer one reported itself activated with its manifest.
        #expect(await outbox.kept.contains { message in
            guard case .deployStatus(let status) = message else { return false }
            return status.deploymentID == 6 && status.status == .activated && status.version == newer.manifestDigest
        })
    }
}

extension DeployerTests {
    @Test("an object the controller does not have fails the deployment waiting for it, and nothing is applied")
    func unavailableObjectFailsDeployment() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let configuration = AgentConfiguration(stateDirectory: directory.path, controllerHost: "127.0.0.1", controllerPort: 1)
        let logger = Logger(label: "test")
        let transfers = try Transfers(stateDirectory: directory.path, logger: logger)
        let outbox = Outbox()
        let deployer = try Deployer(configuration: configuration, transfers: transfers, outbox: outbox, firmwareInventory: { nil }, logger: logger)
        let image = Image(layer: "a layer the controller lost")
        // Manifest and config are here; the layer is asked for, and the controller says it has none.
        for blob in image.blobs.prefix(2) {
            try Data(blob.bytes).write(to: URL(fileURLWithPath: directory.appending("transfers/objects/" + Digest(of: blob.bytes).hex)))
        }
        await deployer.received(image.deploy(id: 9))
        await transfers.unavailable(Digest(of: image.blobs[2].bytes), reason: "no such object")
        let failed = await eventually {
            await outbox.kept.contains { message in
                guard case .deployStatus(let status) = message else { return false }
                return status.deploymentID == 9 && status.status == .failed && status.detail.contains("not available")
            }
        }
        #expect(failed)
        #expect(!FileManager.default.fileExists(atPath: directory.appending("images/index.json")))
    }
}

extension DeployerTests {
    @Test("a prestage replaced by a newer deployment of the same name lets go of the objects the newer one does not use, also after a restart")
    func replacedPrestageReleasesObjects() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let configuration = AgentConfiguration(stateDirectory: directory.path, controllerHost: "127.0.0.1", controllerPort: 1)
        let logger = Logger(label: "test")
        let transfers = try Transfers(stateDirectory: directory.path, logger: logger)
        func object(_ bytes: [UInt8]) -> String { directory.appending("transfers/objects/" + Digest(of: bytes).hex) }
        let first = Image(layer: "prestaged, never activated")
        let second = Image(layer: "what was deployed instead")
        for blob in first.blobs + second.blobs { try Data(blob.bytes).write(to: URL(fileURLWithPath: object(blob.bytes))) }
        var prestage = first.deploy(id: 3)
        prestage.activate = false
        do {
            let outbox = Outbox()
            let deployer = try Deployer(configuration: configuration, transfers: transfers, outbox: outbox, firmwareInventory: { nil }, logger: logger)
            await deployer.received(prestage)
            let prestaged = await eventually {
                await outbox.kept.contains { if case .deployStatus(let status) = $0 { return status.deploymentID == 3 && status.status == .prestaged } else { return false } }
            }
            #expect(prestaged)
        }
        // A restart, then the newer deployment of the same name.
        let outbox = Outbox()
        let deployer = try Deployer(configuration: configuration, transfers: transfers, outbox: outbox, firmwareInventory: { nil }, logger: logger)
        await deployer.received(second.deploy(id: 4))
        #expect(!FileManager.default.fileExists(atPath: object(first.blobs[0].bytes)))  // its manifest
        #expect(!FileManager.default.fileExists(atPath: object(first.blobs[2].bytes)))  // its layer
        let activated = await eventually {
            await outbox.kept.contains { if case .deployStatus(let status) = $0 { return status.deploymentID == 4 && status.status == .activated } else { return false } }
        }
        #expect(activated)
        // The config blob both images share was used by the newer one.
        #expect(OCILayout(root: directory.appending("images")).hasBlob(Digest(of: second.blobs[1].bytes).hex))
    }
}
