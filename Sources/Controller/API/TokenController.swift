import Foundation
import Hummingbird

/// `/v1/tokens`: read-only viewer tokens (the operator token is `DATA/api-token`).
struct TokenController: Sendable {
    let access: Access

    struct CreateRequest: Decodable {
        var name: String
        /// Must be true: only viewer tokens are made here.
        var viewer: Bool?
    }

    func register(_ group: RouterGroup<BasicRequestContext>) {
        group.get("tokens") { _, _ in try await self.access.viewerTokens() }
        group.post("tokens", use: self.create)
        group.delete("tokens/{id}") { _, context -> HTTPResponse.Status in
            guard let id = Int64(try context.parameters.require("id")) else { throw HTTPError(.badRequest, message: "a token id is a number") }
            try await self.access.revokeViewer(id: id)
            return .noContent
        }
    }

    @Sendable func create(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<ViewerTokenCreated> {
        let body = try await request.decode(as: CreateRequest.self, context: context)
        guard body.viewer == true else {
            throw HTTPError(.badRequest, message: "only viewer tokens can be made (--viewer); the operator token is the data directory's api-token")
        }
        return EditedResponse(status: .created, response: try await self.access.createViewer(name: body.name))
    }
}

extension ViewerToken: ResponseEncodable {}
extension ViewerTokenCreated: ResponseEncodable {}
