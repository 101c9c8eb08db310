import Foundation
import HTTPTypes
import Hummingbird

/// The dashboard, served by the controller on the API listener: the pages and
/// their static files under `/`, the live feed and what the pages read beside the
/// REST API under `/v1` (behind `Authentication`).
struct DashboardController: Sendable {
    let session: DashboardSession
    let feed: FleetFeed
    let store: any DashboardStore & SubcloudStore & ContentStore
    let healthBook: HealthBook

    func register(_ router: Router<BasicRequestContext>, api: RouterGroup<BasicRequestContext>) {
        self.session.register(router)
        router.get("/") { request, _ -> Response in
            guard self.session.signedIn(request) else { return Response.redirect(to: "/signin", type: .normal) }
            return DashboardAssets.response(for: "index.html")
        }
        router.get("signin") { _, _ in DashboardAssets.response(for: "signin.html") }
        router.get("assets/{file}") { _, context -> Response in
            let file = try context.parameters.require("file")
            guard DashboardAssets.files[file] != nil, file != "index.html", file != "signin.html" else { throw HTTPError(.notFound) }
            return DashboardAssets.response(for: file)
        }
        api.get("stream", use: self.stream)
        api.get("subclouds/{name}/health", use: self.health)
        api.get("updates") { _, _ in try await self.store.requiredUpdates() }
        api.get("subclouds/{name}/installed") { _, context in
            try await self.store.installed(subcloud: try context.parameters.require("name"))
        }
        api.get("subclouds/{name}/events") { _, context in
            try await self.store.events(subcloud: try context.parameters.require("name"), limit: 200)
        }
    }

    /// Server-Sent Events: a snapshot (or the deltas missed since `Last-Event-ID`), then deltas.
    @Sendable func stream(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let lastEventID = request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.uri.queryParameters.get("lastEventId")
        guard let frames = try await self.feed.subscribe(lastEventID: lastEventID) else {
            throw HTTPError(.serviceUnavailable, message: "too many dashboard pages are open (\(self.feed.pageLimit))")
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody(asyncSequence: frames))
    }

    @Sendable func health(_ request: Request, context: BasicRequestContext) async throws -> [HealthSample] {
        let name = try context.parameters.require("name")
        guard try await self.store.subcloud(named: name) != nil else { throw HTTPError(.notFound, message: "no subcloud named \"\(name)\"") }
        return self.healthBook.samples(for: name)
    }
}

extension HealthSample: ResponseEncodable {}
extension InstalledContent: ResponseEncodable {}
extension RequiredUpdate: ResponseEncodable {}

/// Security headers on every answer: scripts and styles only from the controller
/// itself (no inline script), no framing, no sniffing, no referrer.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    static var policy: String {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; "
            + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.contentSecurityPolicy] = Self.policy
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return response
    }
}
