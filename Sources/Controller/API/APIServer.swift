import Foundation
import Hummingbird
import Logging
import NIOCore
import Wire

/// The operator surface over HTTP: the REST API under `/v1` (bearer token),
/// `/metrics` for Prometheus and `/healthz` (both open).
enum APIServer {
    static func make(context: ControllerContext, token: String, enrolAddress: String, onRunning: @escaping @Sendable (SocketAddress?) async -> Void) -> some ApplicationProtocol {
        let router = Router()
        router.middlewares.add(StoreErrorMapping())
        router.get("healthz") { _, _ in "ok\n" }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: context.metrics.render())))
        }
        let v1 = router.group("v1").add(middleware: BearerAuthentication(token: token))
        FleetRoutes(context: context, enrolAddress: enrolAddress).register(v1)
        AlarmRoutes(context: context).register(v1)
        ContentRoutes(context: context).register(v1)
        DeploymentRoutes(context: context).register(v1)
        var logger = context.logger
        logger.logLevel = max(logger.logLevel, .notice)
        return Application(
            router: router,
            configuration: .init(address: .hostname(context.configuration.apiHost, port: context.configuration.apiPort), serverName: "tern-controller"),
            onServerRunning: { channel in await onRunning(channel.localAddress) },
            logger: logger
        )
    }
}

/// Store errors become HTTP answers with the operator's message.
struct StoreErrorMapping<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as FleetStoreError {
            switch error.kind {
            case .notFound: throw HTTPError(.notFound, message: error.message)
            case .conflict: throw HTTPError(.conflict, message: error.message)
            case .refused: throw HTTPError(.unprocessableContent, message: error.message)
            }
        } catch let error as OCILayout.Failure {
            throw HTTPError(.unprocessableContent, message: error.description)
        } catch let error as HostCommand.Failure {
            throw HTTPError(.unprocessableContent, message: error.description)
        }
    }
}
