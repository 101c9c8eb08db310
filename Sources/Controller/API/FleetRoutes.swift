import Foundation
import Hummingbird
import Wire

/// `/v1/subclouds` and `/v1/subcloud-groups`: the fleet registry, in operator's words.
struct FleetRoutes {
    let context: ControllerContext
    /// Where agents enrol, as bound (the configured port may have been 0).
    let enrolAddress: String

    struct AddSubcloud: Decodable {
        var name: String
        var group: String?
        var description: String?
    }

    struct AddGroup: Decodable {
        var name: String
        var description: String?
        var updateApplyType: SubcloudGroup.ApplyType?
        var maxParallel: Int?
    }

    func register(_ group: RouterGroup<BasicRequestContext>) {
        group.get("subclouds") { _, _ in try await self.context.store.subclouds() }
        group.post("subclouds") { request, context -> EditedResponse<SubcloudAdded> in
            let body = try await request.decode(as: AddSubcloud.self, context: context)
            try Self.validateName(body.name)
            let (token, record) = BootstrapToken.make(validFor: Double(self.context.configuration.tokenLifetime.nanoseconds) / 1e9)
            let subcloud = try await self.context.store.createSubcloud(
                name: body.name, group: body.group ?? SubcloudGroup.defaultName, description: body.description ?? "", token: record, at: Date()
            )
            return EditedResponse(status: .created, response: try self.added(subcloud, token: token, record: record))
        }
        group.get("subclouds/{name}") { _, context in
            let name = try context.parameters.require("name")
            guard let subcloud = try await self.context.store.subcloud(named: name) else { throw HTTPError(.notFound, message: "no subcloud named \"\(name)\"") }
            return subcloud
        }
        group.post("subclouds/{name}/manage") { _, context in
            try await self.context.store.setManagement(try context.parameters.require("name"), to: .managed, at: Date())
        }
        group.post("subclouds/{name}/unmanage") { _, context in
            try await self.context.store.setManagement(try context.parameters.require("name"), to: .unmanaged, at: Date())
        }
        group.post("subclouds/{name}/token") { _, context -> SubcloudAdded in
            let name = try context.parameters.require("name")
            let (token, record) = BootstrapToken.make(validFor: Double(self.context.configuration.tokenLifetime.nanoseconds) / 1e9)
            try await self.context.store.replaceToken(for: name, with: record, at: Date())
            guard let subcloud = try await self.context.store.subcloud(named: name) else { throw HTTPError(.notFound) }
            return try self.added(subcloud, token: token, record: record)
        }
        group.delete("subclouds/{name}") { _, context -> HTTPResponse.Status in
            let name = try context.parameters.require("name")
            try await self.context.store.deleteSubcloud(name, at: Date())
            await self.context.live.forget(name)
            // End its connection now rather than at its next message.
            _ = try? await self.context.live.send(.goAway(.unauthorized, reason: "subcloud \(name) was deleted; its certificate is revoked"), to: name)
            return .noContent
        }

        group.get("subcloud-groups") { _, _ in try await self.context.store.groups() }
        group.post("subcloud-groups") { request, context -> EditedResponse<SubcloudGroup> in
            let body = try await request.decode(as: AddGroup.self, context: context)
            try Self.validateName(body.name)
            let created = try await self.context.store.createGroup(SubcloudGroup(
                name: body.name, description: body.description ?? "", updateApplyType: body.updateApplyType ?? .parallel, maxParallel: body.maxParallel ?? 2
            ))
            return EditedResponse(status: .created, response: created)
        }
        group.get("subcloud-groups/{name}") { _, context in
            let name = try context.parameters.require("name")
            guard let found = try await self.context.store.group(named: name) else { throw HTTPError(.notFound, message: "no subcloud group named \"\(name)\"") }
            return found
        }
        group.delete("subcloud-groups/{name}") { _, context -> HTTPResponse.Status in
            try await self.context.store.deleteGroup(try context.parameters.require("name"))
            return .noContent
        }
    }

    private func added(_ subcloud: Subcloud, token: String, record: BootstrapToken.Record) throws -> SubcloudAdded {
        SubcloudAdded(
            subcloud: subcloud, bootstrapToken: token, tokenExpiresAt: record.expiresAt,
            caFingerprint: try self.context.pki.authority.fingerprint.hex,
            enrolAddress: self.enrolAddress
        )
    }

    /// Names go into certificates, URLs and file names: keep them to a safe alphabet.
    static func validateName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard !name.isEmpty, name.count <= 63, name.allSatisfy(allowed.contains), name.first != "." else {
            throw HTTPError(.badRequest, message: "a name is 1–63 characters of letters, digits, '-', '_' and '.'")
        }
    }
}

extension Subcloud: ResponseEncodable {}
extension SubcloudAdded: ResponseEncodable {}
extension SubcloudGroup: ResponseEncodable {}
extension Alarm: ResponseEncodable {}
extension FleetEvent: ResponseEncodable {}
