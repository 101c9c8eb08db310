import Foundation
import Wire

#if canImport(Glibc)
import Glibc
import Platform
#endif

/// The site's OCI image layout (`images/` in the state directory). Blobs arrive as
/// verified transfer objects and move in under their digest; the tag is written last,
/// in one rename of `index.json`, so a half-fetched image is never visible.
struct ImageSite: Sendable {
    let layout: OCILayout

    init(configuration: AgentConfiguration) {
        self.layout = OCILayout(root: configuration.stateDirectory + "/images")
    }

    func has(_ digest: ContentDigest) -> Bool { self.layout.hasBlob(digest.hex) }

    /// Every tag and its manifest digest.
    func tags() -> [(tag: String, digest: String)] {
        (try? self.layout.tags()) ?? []
    }

    /// Moves the fetched blobs in, checks the manifest names only blobs that are here, and tags it.
    func apply(name: String, manifestDigest: String, objects: [(ObjectRef, String?)]) throws {
        try self.layout.create()
        for (reference, path) in objects {
            guard let digest = reference.digest, !self.layout.hasBlob(digest.hex) else { continue }
            guard let path else { throw DeployFailure("blob \(digest) is missing") }
            let target = self.layout.blobPath(digest.hex)
            try OSTreeSite.place(path, at: target + ".incoming")
            guard rename(target + ".incoming", target) == 0 else { throw DeployFailure("cannot move blob \(digest) into \(self.layout.root)") }
        }
        let manifest = try self.layout.manifest(manifestDigest)
        for blob in [manifest.config] + manifest.layers where !self.layout.hasBlob(blob.digest) {
            throw DeployFailure("manifest \(manifestDigest) needs blob \(blob.digest), which was not delivered")
        }
        let size = UInt64((try? FileManager.default.attributesOfItem(atPath: self.layout.blobPath(manifestDigest))[.size] as? UInt64) ?? 0)
        try self.layout.tag(name, manifest: OCILayout.Descriptor(
            mediaType: manifest.mediaType ?? OCILayout.manifestMediaType, digest: manifestDigest, size: size
        ))
    }
}
