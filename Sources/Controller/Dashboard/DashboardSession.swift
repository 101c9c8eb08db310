import Foundation
import Hummingbird

/// Sign-in and sign-out for the dashboard: the token is posted once in a form and
/// exchanged for a session cookie (HttpOnly, SameSite=Strict, Secure over TLS), so
/// it never sits in a URL, the page or the browser's history.
struct DashboardSession: Sendable {
    static let cookie = "tern_session"
    let access: Access
    let secure: Bool

    struct SignIn: Decodable {
        var token: String
    }

    func register(_ router: Router<BasicRequestContext>) {
        router.post("signin", use: self.signIn)
        router.post("signout", use: self.signOut)
    }

    @Sendable func signIn(_ request: Request, context: BasicRequestContext) async throws -> Response {
        // A token is 43 characters: a form much larger than that is not a sign-in.
        let body = try await request.body.collect(upTo: 4096)
        let form = try? URLEncodedFormDecoder().decode(SignIn.self, from: String(buffer: body))
        guard let token = form?.token.trimmingCharacters(in: .whitespacesAndNewlines), let (id, _) = self.access.openSession(token: token[...]) else {
            return Response.redirect(to: "/signin?failed=1", type: .normal)
        }
        var response = Response.redirect(to: "/", type: .normal)
        let lifetime = Int(self.access.sessionLifetime)
        response.headers[.setCookie] = "\(Self.cookie)=\(id); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(lifetime)\(self.secure ? "; Secure" : "")"
        return response
    }

    @Sendable func signOut(_ request: Request, context: BasicRequestContext) async throws -> Response {
        if let id = request.cookies[Self.cookie]?.value { self.access.closeSession(id[...]) }
        var response = Response.redirect(to: "/signin", type: .normal)
        response.headers[.setCookie] = "\(Self.cookie)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0\(self.secure ? "; Secure" : "")"
        return response
    }

    /// Whether the request carries a live session.
    func signedIn(_ request: Request) -> Bool {
        guard let id = request.cookies[Self.cookie]?.value else { return false }
        return self.access.role(ofSession: id[...]) != nil
    }
}
