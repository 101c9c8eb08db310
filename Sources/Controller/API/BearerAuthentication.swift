import Hummingbird
import Platform
import Wire

/// Requires `Authorization: Bearer <api token>`; anything else is 401.
struct BearerAuthentication<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              APIToken.matches(header.dropFirst("Bearer ".count), self.token) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer realm=\"tern\""
            return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"missing or wrong API token\"}\n")))
        }
        return try await next(request, context)
    }
}

extension BearerAuthentication: KeyMaterialRedacting {
    var redactedDescription: String { "BearerAuthentication(token redacted)" }
}
