import Foundation
import NIOPosix
import Wire

#if canImport(Glibc)
import Glibc
import Platform
#endif

/// The controller's container images: an OCI image layout (`oci/` in the data
/// directory) whose blobs are also objects in the object store, under the same
/// SHA-256 — an OCI blob digest is a Tern object address.
public struct ImageLibrary: Sendable {
    public let layout: OCILayout
    let objects: ObjectStore

    public init(dataDirectory: String, objects: ObjectStore) {
        self.layout = OCILayout(root: dataDirectory + "/oci")
        self.objects = objects
    }

    /// Imports `oci:DIR:TAG` as `NAME:TAG` (NAME defaults to DIR's last component).
    /// Every blob is checked against its digest on the way in. Blob copies, hashes
    /// and fsyncs run on the NIO thread pool.
    public func importImage(reference: String, name: String?) async throws -> Release {
        try await NIOThreadPool.singleton.runIfActive { try self.importImageNow(reference: reference, name: name) }
    }

    private func importImageNow(reference: String, name: String?) throws -> Release {
        guard reference.hasPrefix("oci:"), let colon = reference.dropFirst(4).lastIndex(of: ":") else {
            throw OCILayout.Failure("expected oci:DIR:TAG, got \"\(reference)\"")
        }
        let directory = String(reference.dropFirst(4)[..<colon])
        let tag = String(reference[reference.index(after: colon)...])
        guard !directory.isEmpty, !tag.isEmpty else { throw OCILayout.Failure("expected oci:DIR:TAG, got \"\(reference)\"") }
        let source = OCILayout(root: directory)
        let descriptor = try source.manifestDescriptor(tag: tag)
        let manifest = try source.manifest(descriptor.digest)
        let imageName = (name ?? URL(fileURLWithPath: directory).lastPathComponent) + ":" + tag

        try self.layout.create()
        var objects: [ObjectRef] = []
        var blobs: [(OCILayout.Descriptor, String)] = [(descriptor, "manifest"), (manifest.config, "config")]
        blobs += manifest.layers.enumerated().map { ($1, "layer/\($0)") }
        for (blob, role) in blobs {
            let imported = try self.objects.copyIn(source.blobPath(blob.digest))
            guard "sha256:" + imported.digest.hex == blob.digest, imported.size == blob.size else {
                throw OCILayout.Failure("blob \(blob.digest) in \(directory) does not match its digest or size")
            }
            let target = self.layout.blobPath(blob.digest)
            if !FileManager.default.fileExists(atPath: target), link(self.objects.root + "/" + imported.digest.hex, target) != 0 {
                try FileManager.default.copyItem(atPath: self.objects.root + "/" + imported.digest.hex, toPath: target)
            }
            objects.append(ObjectRef(digest: imported.digest, size: imported.size, blockSize: UInt32(self.objects.blockSize), role: role))
        }
        try self.layout.tag(imageName, manifest: descriptor)
        let layerTypes = Set(manifest.layers.map { $0.mediaType.split(separator: ".").last.map(String.init) ?? $0.mediaType }).sorted()
        return Release(
            kind: .image, name: imageName, version: descriptor.digest, objects: objects,
            detail: "\(manifest.layers.count) layers (\(layerTypes.joined(separator: ", ")))",
            size: objects.reduce(0) { $0 + $1.size }, importedAt: Date()
        )
    }
}
