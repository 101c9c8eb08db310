import Foundation
import Hummingbird

/// `/v1/alarms` and `/v1/events`.
struct AlarmController: Sendable {
    let alarms: any AlarmStore
    let subclouds: any SubcloudStore

    /// Active alarms per subcloud and severity.
    struct Summary: ResponseEncodable {
        var subcloud: String
        var critical: Int
        var major: Int
        var minor: Int
        var warning: Int
    }

    func register(_ group: RouterGroup<BasicRequestContext>) {
        group.get("alarms", use: self.list)
        group.get("alarms/summary", use: self.summary)
        group.get("events", use: self.events)
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> [Alarm] {
        try await self.alarms.alarms(subcloud: request.uri.queryParameters.get("subcloud"))
    }

    @Sendable func summary(_ request: Request, context: BasicRequestContext) async throws -> [Summary] {
        try await self.subclouds.subclouds().map {
            Summary(subcloud: $0.name, critical: $0.alarmCounts.critical, major: $0.alarmCounts.major, minor: $0.alarmCounts.minor, warning: $0.alarmCounts.warning)
        }
    }

    @Sendable func events(_ request: Request, context: BasicRequestContext) async throws -> [FleetEvent] {
        var since: Date?
        if let text = request.uri.queryParameters.get("since") {
            guard let parsed = ISO8601DateFormatter().date(from: text) else {
                throw HTTPError(.badRequest, message: "since must be an ISO 8601 time, e.g. 2026-11-29T10:00:00Z")
            }
            since = parsed
        }
        let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 500
        return try await self.alarms.events(since: since, limit: min(max(limit, 1), 10_000))
    }
}

extension Alarm: ResponseEncodable {}
extension FleetEvent: ResponseEncodable {}
