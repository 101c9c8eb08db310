import Foundation
import Hummingbird
import Wire

/// `/v1/subclouds` and `/v1/subcloud-groups`: the fleet registry, in operator's words.
struct SubcloudController: Sendable {
    let store: any SubcloudStore & InstallStore & LeaseStore
    let live: LiveFleet
    let healthBook: HealthBook
    let installer: Installer
    /// How long a new bootstrap token is good for, in seconds.
    let tokenLifetime: Double
    /// The CA's fingerprint, which `subcloud add` prints for the enrol command.
    let caFingerprint: String
    /// Where agents enrol, as bound (the configured port may have been 0).
    let enrolAddress: String

    struct AddSubcloud: Decodable {
        var name: String
        var group: String?
        var description: String?
        /// Zero-touch install: the BMC (its password is stored 0600, never shown) and the values.
        var bmc: Installer.BMCCredentials?
        var installValues: InstallValues?
        /// Start the install at once.
        var install: Bool?
    }

    struct AddGroup: Decodable {
        var name: String
        var description: String?
        var updateApplyType: SubcloudGroup.ApplyType?
        var maxParallel: Int?
        var priority: Int?
    }

    func register(_ group: RouterGroup<BasicRequestContext>) {
        group.get("subclouds", use: self.list)
        group.post("subclouds", use: self.add)
        group.get("subclouds/{name}", use: self.show)
        group.post("subclouds/{name}/manage", use: self.manage)
        group.post("subclouds/{name}/unmanage", use: self.unmanage)
        group.post("subclouds/{name}/token", use: self.newToken)
        group.post("subclouds/{name}/install", use: self.install)
        group.get("subclouds/{name}/install", use: self.showInstall)
        group.delete("subclouds/{name}", use: self.delete)
        group.get("subcloud-groups", use: self.listGroups)
        group.post("subcloud-groups", use: self.addGroup)
        group.get("subcloud-groups/{name}", use: self.showGroup)
        group.delete("subcloud-groups/{name}", use: self.deleteGroup)
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> [Subcloud] {
        try await self.store.subclouds()
    }

    @Sendable func add(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<SubcloudAdded> {
        let body = try await request.decode(as: AddSubcloud.self, context: context)
        try Self.validateName(body.name)
        let (token, record) = BootstrapToken.make(validFor: self.tokenLifetime)
        if body.install == true, body.bmc == nil { throw HTTPError(.badRequest, message: "--install needs a BMC (--bmc-address, --bmc-username, --bmc-password-file)") }
        if body.install == true, body.installValues == nil { throw HTTPError(.badRequest, message: "--install needs install values (--install-values)") }
        if let problem = body.installValues?.problem { throw HTTPError(.badRequest, message: "install values: \(problem)") }
        if let bmc = body.bmc {
            do { _ = try BMCAddress(parsing: bmc.address) } catch { throw HTTPError(.badRequest, message: "\(error)") }
        }
        let subcloud = try await self.store.createSubcloud(
            name: body.name, group: body.group ?? SubcloudGroup.defaultName, description: body.description ?? "", token: record, at: Date()
        )
        var added = self.added(subcloud, token: token, record: record)
        let request = Installer.Request(bmc: body.bmc, installValues: body.installValues)
        if body.install == true {
            added.install = try await self.installer.start(body.name, request, at: Date())
        } else if body.bmc != nil {
            try await self.installer.configure(body.name, request, at: Date())
            added.install = try await self.store.install(of: body.name)
        }
        if let install = added.install { added.subcloud.deployStatus = install.status }
        return EditedResponse(status: .created, response: added)
    }

    @Sendable func install(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<Install> {
        let name = try context.parameters.require("name")
        let body = try await request.decode(as: Installer.Request.self, context: context)
        return EditedResponse(status: .accepted, response: try await self.installer.start(name, body, at: Date()))
    }

    @Sendable func showInstall(_ request: Request, context: BasicRequestContext) async throws -> Install {
        let name = try context.parameters.require("name")
        guard let install = try await self.store.install(of: name) else { throw HTTPError(.notFound, message: "\(name) has no install record (add it with --bmc-address)") }
        return install
    }

    @Sendable func show(_ request: Request, context: BasicRequestContext) async throws -> Subcloud {
        let name = try context.parameters.require("name")
        guard let subcloud = try await self.store.subcloud(named: name) else { throw HTTPError(.notFound, message: "no subcloud named \"\(name)\"") }
        return subcloud
    }

    @Sendable func manage(_ request: Request, context: BasicRequestContext) async throws -> Subcloud {
        try await self.store.setManagement(try context.parameters.require("name"), to: .managed, at: Date())
    }

    @Sendable func unmanage(_ request: Request, context: BasicRequestContext) async throws -> Subcloud {
        try await self.store.setManagement(try context.parameters.require("name"), to: .unmanaged, at: Date())
    }

    @Sendable func newToken(_ request: Request, context: BasicRequestContext) async throws -> SubcloudAdded {
        let name = try context.parameters.require("name")
        let (token, record) = BootstrapToken.make(validFor: self.tokenLifetime)
        try await self.store.replaceToken(for: name, with: record, at: Date())
        guard let subcloud = try await self.store.subcloud(named: name) else { throw HTTPError(.notFound) }
        return self.added(subcloud, token: token, record: record)
    }

    @Sendable func delete(_ request: Request, context: BasicRequestContext) async throws -> HTTPResponse.Status {
        let name = try context.parameters.require("name")
        try await self.store.deleteSubcloud(name, at: Date())
        await self.installer.forget(name)
        await self.live.forget(name)
        // A site added again under this name starts with no charts of the old one.
        self.healthBook.forget(name)
        // End its connection now rather than at its next message.
        _ = try? await self.live.send(.goAway(.unauthorized, reason: "subcloud \(name) was deleted; its certificate is revoked"), to: name)
        // Or, with replicas, on the replica that holds it.
        try? await self.store.nudge([name])
        return .noContent
    }

    @Sendable func listGroups(_ request: Request, context: BasicRequestContext) async throws -> [SubcloudGroup] {
        try await self.store.groups()
    }

    @Sendable func addGroup(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<SubcloudGroup> {
        let body = try await request.decode(as: AddGroup.self, context: context)
        try Self.validateName(body.name)
        let created = try await self.store.createGroup(SubcloudGroup(
            name: body.name, description: body.description ?? "", updateApplyType: body.updateApplyType ?? .parallel, maxParallel: body.maxParallel ?? 2,
            priority: body.priority ?? SubcloudGroup.defaultPriority
        ))
        return EditedResponse(status: .created, response: created)
    }

    @Sendable func showGroup(_ request: Request, context: BasicRequestContext) async throws -> SubcloudGroup {
        let name = try context.parameters.require("name")
        guard let found = try await self.store.group(named: name) else { throw HTTPError(.notFound, message: "no subcloud group named \"\(name)\"") }
        return found
    }

    @Sendable func deleteGroup(_ request: Request, context: BasicRequestContext) async throws -> HTTPResponse.Status {
        try await self.store.deleteGroup(try context.parameters.require("name"))
        return .noContent
    }

    private func added(_ subcloud: Subcloud, token: String, record: BootstrapToken.Record) -> SubcloudAdded {
        SubcloudAdded(
            subcloud: subcloud, bootstrapToken: token, tokenExpiresAt: record.expiresAt,
            caFingerprint: self.caFingerprint, enrolAddress: self.enrolAddress
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
extension Install: ResponseEncodable {}
