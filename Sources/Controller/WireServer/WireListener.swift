import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Platform
import Wire

/// A TLS listener whose connections speak the Tern wire protocol. The protocol port
/// and the enrolment port differ in TLS policy and ALPN, and in what ends each
/// connection's pipeline: the enrolment port wraps it for structured concurrency
/// (`Connection`, one short exchange), the protocol port adds its session handler.
enum WireListener {
    typealias Connection = NIOAsyncChannel<TransferEvent, WireCommand>

    static func bind(
        host: String, port: Int, tls: TLSConfiguration, alpn: String, session: SessionConfiguration,
        unauthenticated: UnauthenticatedConnections, release: PreAuthenticationGuard.Release,
        tlsDeadline: TimeAmount, lifetime: TimeAmount? = nil, uploads: (writers: ObjectWriters, counters: TransferCounters)? = nil,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) async throws -> NIOAsyncChannel<Connection, Never> {
        try await Self.bind(
            host: host, port: port, tls: tls, alpn: alpn, session: session, unauthenticated: unauthenticated, release: release,
            tlsDeadline: tlsDeadline, lifetime: lifetime, uploads: uploads, group: group, logger: logger
        ) { child in try Connection(wrappingChannelSynchronously: child) }
    }

    /// - Parameter end: completes the pipeline of each connection, on its event loop.
    static func bind<Output: Sendable>(
        host: String, port: Int, tls: TLSConfiguration, alpn: String, session: SessionConfiguration,
        unauthenticated: UnauthenticatedConnections, release: PreAuthenticationGuard.Release,
        tlsDeadline: TimeAmount, lifetime: TimeAmount? = nil, uploads: (writers: ObjectWriters, counters: TransferCounters)? = nil,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
        end: @escaping @Sendable (any Channel) throws -> Output
    ) async throws -> NIOAsyncChannel<Output, Never> {
        let context = try NIOSSLContext(configuration: tls)
        return try await ServerBootstrap(group: group)
            // Past the cap of unauthenticated connections, new ones wait in the accept
            // queue: the gate reads the listener again when a place is free. A read
            // accepts up to 32 (one a read made a loaded event loop accept ~60 a second).
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.maxMessagesPerRead, value: 32)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptGate(connections: unauthenticated))
                }
            }
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try child.pipeline.syncOperations.addHandler(PreAuthenticationGuard(
                        connections: unauthenticated, release: release, tlsDeadline: tlsDeadline, lifetime: lifetime
                    ))
                    var connectionLogger = logger
                    connectionLogger[metadataKey: "peer"] = "\(child.remoteAddress?.description ?? "?")"
                    try child.pipeline.syncOperations.addHandler(
                        WireConnectionHandler(role: .server, configuration: session, alpn: alpn, logger: connectionLogger)
                    )
                    // Receives the streams this side opened for uploads; nothing else (PROTOCOL.md §7.6).
                    let sink = uploads ?? (ObjectWriters(), TransferCounters())
                    try child.pipeline.syncOperations.addHandler(TransferSink(writers: sink.writers, counters: sink.counters, logger: connectionLogger))
                    return try end(child)
                }
            }
    }
}
