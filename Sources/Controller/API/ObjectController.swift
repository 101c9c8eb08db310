import Foundation
import Hummingbird
import Wire

/// `/v1/objects` and `/v1/subclouds/{name}/content`: put an object in the store and
/// make it part of a subcloud's desired content (the mechanism the config,
/// software, image and firmware commands build on).
struct ObjectController: Sendable {
    let content: ContentPlane
    let objects: ObjectStore
    let subclouds: any SubcloudStore

    struct Import: Decodable {
        /// A file on the controller host.
        var path: String
    }

    struct Imported: ResponseEncodable {
        var digest: String
        var size: UInt64
    }

    struct Deliver: Decodable {
        var digest: String
        var kind: String
        var name: String?
    }

    struct Delivery: ResponseEncodable {
        var subcloud: String
        var digest: String
        /// Whether the offer went out now (false: it goes out when the agent connects).
        var offeredNow: Bool
    }

    struct Collect: Decodable {
        var dryRun: Bool?
        /// Objects younger than this are kept (default an hour).
        var graceSeconds: Double?
    }

    func register(_ group: RouterGroup<BasicRequestContext>) {
        group.post("objects/gc", use: self.collect)
        group.post("objects", use: self.importObject)
        group.post("subclouds/{name}/content", use: self.deliver)
    }

    @Sendable func collect(_ request: Request, context: BasicRequestContext) async throws -> ObjectCollector.Report {
        let body = try await request.decode(as: Collect.self, context: context)
        if let grace = body.graceSeconds, grace < 0 { throw HTTPError(.badRequest, message: "graceSeconds must not be negative") }
        return try await self.content.collectGarbage(dryRun: body.dryRun ?? false, grace: body.graceSeconds ?? 3600)
    }

    @Sendable func importObject(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<Imported> {
        let body = try await request.decode(as: Import.self, context: context)
        try Self.requireHostFile(body.path)
        let (digest, size) = try await self.objects.importFile(body.path)
        return EditedResponse(status: .created, response: Imported(digest: digest.hex, size: size))
    }

    @Sendable func deliver(_ request: Request, context: BasicRequestContext) async throws -> Delivery {
        let name = try context.parameters.require("name")
        let body = try await request.decode(as: Deliver.self, context: context)
        guard let digest = ContentDigest(hex: body.digest) else { throw HTTPError(.badRequest, message: "digest must be 64 hex digits") }
        guard try await self.subclouds.subcloud(named: name) != nil else { throw HTTPError(.notFound, message: "no subcloud named \"\(name)\"") }
        guard let sent = try await self.content.deliver(digest, kind: body.kind, name: body.name ?? body.kind, to: name) else {
            throw HTTPError(.notFound, message: "no object \(body.digest) in the object store")
        }
        return Delivery(subcloud: name, digest: digest.hex, offeredNow: sent)
    }

    /// An import names a file on the controller host: absolute and readable, or a 400.
    static func requireHostFile(_ path: String) throws {
        guard path.hasPrefix("/"), FileManager.default.isReadableFile(atPath: path) else {
            throw HTTPError(.badRequest, message: "path must be an absolute path to a readable file on the controller host")
        }
    }
}

extension ObjectCollector.Report: ResponseEncodable {}
