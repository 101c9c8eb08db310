import Foundation
import Hummingbird

/// `/v1/strategies`: orchestration of updates over the fleet.
struct StrategyController: Sendable {
    let strategies: Strategies

    func register(_ group: RouterGroup<BasicRequestContext>) {
        group.get("strategies", use: self.list)
        group.post("strategies", use: self.create)
        group.get("strategies/{type}", use: self.show)
        group.post("strategies/{type}/apply", use: self.apply)
        group.post("strategies/{type}/abort", use: self.abort)
        group.delete("strategies/{type}", use: self.delete)
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> [Strategy] {
        try await self.strategies.list()
    }

    @Sendable func create(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<StrategyView> {
        let body = try await request.decode(as: Strategies.Request.self, context: context)
        return EditedResponse(status: .created, response: try await self.strategies.create(body, at: Date()))
    }

    @Sendable func show(_ request: Request, context: BasicRequestContext) async throws -> StrategyView {
        try await self.strategies.show(try Self.type(context))
    }

    @Sendable func apply(_ request: Request, context: BasicRequestContext) async throws -> StrategyView {
        try await self.strategies.apply(try Self.type(context), at: Date())
    }

    @Sendable func abort(_ request: Request, context: BasicRequestContext) async throws -> StrategyView {
        try await self.strategies.abort(try Self.type(context), at: Date())
    }

    @Sendable func delete(_ request: Request, context: BasicRequestContext) async throws -> HTTPResponse.Status {
        try await self.strategies.delete(try Self.type(context))
        return .noContent
    }

    private static func type(_ context: BasicRequestContext) throws -> StrategyType {
        let text = try context.parameters.require("type")
        guard let type = StrategyType(rawValue: text) else {
            throw HTTPError(.notFound, message: "no strategy type \"\(text)\"; types: \(StrategyType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return type
    }
}

extension Strategy: ResponseEncodable {}
extension StrategyView: ResponseEncodable {}
