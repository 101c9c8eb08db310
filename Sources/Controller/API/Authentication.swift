import Hummingbird
import Platform

/// Who may call the REST API: `Authorization: Bearer <token>` with the operator
/// token or a viewer token, or the dashboard's session cookie. Anything else is 401.
/// Only the operator token, as a bearer token, may change things: a viewer (token
/// or session) gets 403 on every method but GET and HEAD, and so does an operator's
/// session cookie — a browser sends cookies on requests other sites make it send,
/// bearer tokens it does not.
struct Authentication<Context: RequestContext>: RouterMiddleware {
    let access: Access

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let readOnly = request.method == .get || request.method == .head
        if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer "), let (role, _) = self.access.role(ofToken: header.dropFirst("Bearer ".count)) else {
                return Self.refusal(.unauthorized, "missing or wrong API token")
            }
            guard readOnly || role == .operator else { return Self.refusal(.forbidden, "a viewer token is read-only: this needs the operator token") }
            return try await next(request, context)
        }
        guard let session = request.cookies[DashboardSession.cookie]?.value, let role = self.access.role(ofSession: session[...]) else {
            return Self.refusal(.unauthorized, "missing or wrong API token")
        }
        guard readOnly else {
            return Self.refusal(.forbidden, role == .viewer
                ? "a viewer session is read-only: this needs the operator token"
                : "a dashboard session is read-only: send the operator token as a bearer token")
        }
        return try await next(request, context)
    }

    static func refusal(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"tern\"" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"\(message)\"}\n")))
    }
}

extension Authentication: KeyMaterialRedacting {
    var redactedDescription: String { "Authentication(tokens redacted)" }
}
