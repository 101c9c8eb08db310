import Foundation
import Hummingbird

/// `/v1/backups`: backups of sites and their restores.
struct BackupController: Sendable {
    let backups: Backups
    let store: any BackupStore & BackupScheduleStore & SubcloudStore

    struct CreateRequest: Codable {
        var targets: TargetSelection
        var localOnly: Bool?
        var maxParallel: Int?
        /// Keep this many complete backups per site; older ones go once a new one completes.
        var keep: Int?
    }

    struct ScheduleRequest: Codable {
        var targets: TargetSelection
        /// Seconds between runs.
        var every: Double
        var keep: Int?
        var localOnly: Bool?
        var maxParallel: Int?
    }

    struct RestoreRequest: Decodable {
        var to: String?
    }

    func register(_ group: RouterGroup<BasicRequestContext>) {
        group.get("backups", use: self.list)
        group.post("backups", use: self.create)
        group.get("backups/{id}", use: self.show)
        group.delete("backups/{id}", use: self.delete)
        group.post("backups/{id}/restore", use: self.restore)
        group.get("backup-schedules") { _, _ in try await self.store.backupSchedules() }
        group.post("backup-schedules", use: self.addSchedule)
        group.delete("backup-schedules/{id}", use: self.deleteSchedule)
    }

    @Sendable func addSchedule(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<BackupSchedule> {
        let body = try await request.decode(as: ScheduleRequest.self, context: context)
        let made = try await self.backups.schedule(body.targets, every: body.every, keep: body.keep, localOnly: body.localOnly ?? false, maxParallel: body.maxParallel)
        return EditedResponse(status: .created, response: made)
    }

    @Sendable func deleteSchedule(_ request: Request, context: BasicRequestContext) async throws -> HTTPResponse.Status {
        let id = try Self.id(context)
        guard try await self.store.deleteBackupSchedule(id: id) else { throw HTTPError(.notFound, message: "no backup schedule \(id)") }
        return .noContent
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> [Backup] {
        try await self.store.backups(subcloud: request.uri.queryParameters["subcloud"].map(String.init))
    }

    @Sendable func create(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<[Backup]> {
        let body = try await request.decode(as: CreateRequest.self, context: context)
        let subclouds = try await body.targets.resolve(in: self.store).map(\.name)
        let made = try await self.backups.create(subclouds: subclouds, localOnly: body.localOnly ?? false, maxParallel: body.maxParallel, keep: body.keep)
        return EditedResponse(status: .created, response: made)
    }

    @Sendable func show(_ request: Request, context: BasicRequestContext) async throws -> Backup {
        let id = try Self.id(context)
        guard let backup = try await self.store.backup(id: id) else { throw HTTPError(.notFound, message: "no backup \(id)") }
        return backup
    }

    @Sendable func delete(_ request: Request, context: BasicRequestContext) async throws -> HTTPResponse.Status {
        try await self.backups.delete(try Self.id(context))
        return .noContent
    }

    @Sendable func restore(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<Deployment> {
        let body = (try? await request.decode(as: RestoreRequest.self, context: context)) ?? RestoreRequest()
        return EditedResponse(status: .created, response: try await self.backups.restore(try Self.id(context), to: body.to))
    }

    private static func id(_ context: BasicRequestContext) throws -> Int64 {
        let text = try context.parameters.require("id")
        guard let id = Int64(text) else { throw HTTPError(.badRequest, message: "backup id \"\(text)\" is not a number") }
        return id
    }
}

extension Backup: ResponseEncodable {}
extension BackupSchedule: ResponseEncodable {}
