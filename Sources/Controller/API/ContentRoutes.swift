import Foundation
import Hummingbird
import Wire

/// `/v1/objects` and `/v1/subclouds/{name}/content`: put an object in the store and
/// make it part of a subcloud's desired content (the mechanism the config,
/// software, image and firmware commands build on).
struct ContentRoutes {
    let context: ControllerContext

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
        group.post("objects/gc") { request, context -> ObjectCollector.Report in
            let body = try await request.decode(as: Collect.self, context: context)
            var collector = ObjectCollector(context: self.context)
            if let grace = body.graceSeconds {
                guard grace >= 0 else { throw HTTPError(.badRequest, message: "graceSeconds must not be negative") }
                collector.grace = grace
            }
            return try await collector.collect(dryRun: body.dryRun ?? false)
        }
        group.post("objects") { request, context -> EditedResponse<Imported> in
            let body = try await request.decode(as: Import.self, context: context)
            try Self.requireHostFile(body.path)
            let (digest, size) = try await self.context.objects.importFile(body.path)
            return EditedResponse(status: .created, response: Imported(digest: digest.hex, size: size))
        }
        group.post("subclouds/{name}/content") { request, context -> Delivery in
            let name = try context.parameters.require("name")
            let body = try await request.decode(as: Deliver.self, context: context)
            guard let digest = ContentDigest(hex: body.digest) else { throw HTTPError(.badRequest, message: "digest must be 64 hex digits") }
            guard try await self.context.store.subcloud(named: name) != nil else { throw HTTPError(.notFound, message: "no subcloud named \"\(name)\"") }
            guard let sent = try await self.context.deliver(digest, kind: body.kind, name: body.name ?? body.kind, to: name) else {
                throw HTTPError(.notFound, message: "no object \(body.digest) in the object store")
            }
            return Delivery(subcloud: name, digest: digest.hex, offeredNow: sent)
        }
    }
}

extension ContentRoutes {
    /// An import names a file on the controller host: absolute and readable, or a 400.
    static func requireHostFile(_ path: String) throws {
        guard path.hasPrefix("/"), FileManager.default.isReadableFile(atPath: path) else {
            throw HTTPError(.badRequest, message: "path must be an absolute path to a readable file on the controller host")
        }
    }
}

extension ControllerContext {
    /// Makes an object part of a subcloud's desired content and offers it now if the
    /// subcloud is connected (and again on every reconnection). Returns nil when the
    /// object is unknown, else whether the offer went out now.
    public func deliver(_ digest: ContentDigest, kind: String, name: String, to subcloud: String) async throws -> Bool? {
        guard let offer = self.objects.offer(digest, kind: kind, name: name) else { return nil }
        await self.live.want(offer, for: subcloud)
        return try await self.live.send(.message(.transferOffer(offer)), to: subcloud)
    }
}

extension ObjectCollector.Report: ResponseEncodable {}
