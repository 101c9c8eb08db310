import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import Logging
import NIOCore
import Platform
import Wire

/// The operator surface over HTTP: the REST API under `/v1` (bearer token or a
/// dashboard session), the dashboard under `/`, `/metrics` for Prometheus and
/// `/healthz` (both open).
enum APIServer {
    /// What the API serves from.
    struct Parts: Sendable {
        let configuration: ControllerConfiguration
        let store: any FleetStore
        let live: LiveFleet
        let content: ContentPlane
        let objects: ObjectStore
        let installer: Installer
        let backups: Backups
        let access: Access
        let feed: FleetFeed
        let healthBook: HealthBook
        let pki: ControllerPKI
        /// Each listener's unauthenticated connections, by port name, for /metrics.
        let listeners: [String: UnauthenticatedConnections]
        let metrics: ControllerMetrics
        let logger: Logger
    }

    static func make(_ parts: Parts, enrolAddress: String, onRunning: @escaping @Sendable (SocketAddress?) async -> Void) throws -> some ApplicationProtocol {
        let router = Router()
        router.middlewares.add(SecurityHeaders())
        router.middlewares.add(StoreErrorMapping())
        router.get("healthz") { _, _ in "ok\n" }
        let metrics = parts.metrics
        let uploads = parts.backups.counters
        let changes = parts.store.changes
        let listeners = parts.listeners
        router.get("metrics") { _, _ -> Response in
            for (port, connections) in listeners { metrics.recordListener(port, connections) }
            metrics.recordUploads(bytes: uploads.bytes, resent: uploads.resent)
            metrics.recordStoreCommits(changes.commits)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        // Boot images, for BMCs: no bearer token (a BMC has none); the unguessable,
        // single-use URL is the credential.
        BootImageController(store: parts.store).register(router)
        let v1 = router.group("v1").add(middleware: Authentication(access: parts.access))
        SubcloudController(
            store: parts.store, live: parts.live, healthBook: parts.healthBook, installer: parts.installer, tokenLifetime: Double(parts.configuration.tokenLifetime.nanoseconds) / 1e9,
            caFingerprint: try parts.pki.authority.fingerprint.hex, enrolAddress: enrolAddress
        ).register(v1)
        AlarmController(alarms: parts.store, subclouds: parts.store).register(v1)
        ObjectController(content: parts.content, objects: parts.objects, subclouds: parts.store).register(v1)
        ContentController(content: parts.content, releases: parts.store, subclouds: parts.store).register(v1)
        StrategyController(strategies: Strategies(store: parts.store)).register(v1)
        BackupController(backups: parts.backups, store: parts.store).register(v1)
        TokenController(access: parts.access).register(v1)
        DashboardController(
            session: DashboardSession(access: parts.access, secure: parts.configuration.apiTLS), feed: parts.feed, store: parts.store,
            healthBook: parts.healthBook
        ).register(router, api: v1)
        var logger = parts.logger
        logger.logLevel = max(logger.logLevel, .notice)
        return Application(
            router: router,
            server: try self.server(parts.configuration, pki: parts.pki),
            configuration: .init(address: .hostname(parts.configuration.apiHost, port: parts.configuration.apiPort), serverName: "tern-controller"),
            onServerRunning: { channel in await onRunning(channel.localAddress) },
            logger: logger
        )
    }

    /// HTTP/1.1 with an idle timeout between requests and a deadline per request
    /// (issue 7, item 6), over TLS 1.3 when `api_tls` is set.
    static func server(_ configuration: ControllerConfiguration, pki: ControllerPKI) throws -> HTTPServerBuilder {
        let requestTimeout = configuration.apiRequestTimeout
        let http = HTTPServerBuilder.http1(configuration: .init(
            additionalChannelHandlers: [RequestDeadline(timeout: requestTimeout)],
            idleTimeout: configuration.apiIdleTimeout
        ))
        guard configuration.apiTLS else { return http }
        return try .tls(http, tlsConfiguration: try pki.apiTLS())
    }
}

/// Store errors become HTTP answers with the operator's message; any other error
/// that is not already an HTTP answer is logged and answered 500 with what it was,
/// so an operator's script sees a reason rather than an empty body.
struct StoreErrorMapping<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as FleetStoreError {
            switch error.kind {
            case .notFound: throw HTTPError(.notFound, message: error.message)
            case .conflict: throw HTTPError(.conflict, message: error.message)
            case .refused: throw HTTPError(.unprocessableContent, message: error.message)
            case .invalid: throw HTTPError(.badRequest, message: error.message)
            }
        } catch let error as OCILayout.Failure {
            throw HTTPError(.unprocessableContent, message: error.description)
        } catch let error as HostCommand.Failure {
            throw HTTPError(.unprocessableContent, message: error.description)
        } catch let error as any HTTPResponseError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw HTTPError(.internalServerError, message: "internal error: \(error)")
        }
    }
}
