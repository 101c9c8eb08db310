// The controller's floor per connection: a bare swift-nio-ssl server holding idle
// mutual-TLS connections, and the clients that hold them open.
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// Reads and drops; holds nothing between reads.
final class Discard: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// The server's side: drops what it reads and answers each read with 17 bytes, the
/// size of the PING ACK a controller sends an agent once an interval (PROTOCOL.md
/// §5.5). Idle clients send nothing after the handshake, so for them this is `Discard`.
final class Answer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let answer = context.channel.allocator.buffer(repeating: 0, count: 17)
        context.writeAndFlush(self.wrapOutboundOut(answer), promise: nil)
    }
}

/// Raises the open-file limit to the hard limit; returns it.
@discardableResult
func raiseFileLimit() -> Int {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    return Int(limit.rlim_cur)
}

/// Serves mutual TLS with the controller's server certificate, trusting its CA, as
/// the controller's protocol port does (TLS 1.3, ALPN tern/1, client certificate
/// required), on the same event-loop group and backlog.
func serve(pki: String, host: String, port: Int) throws -> Never {
    raiseFileLimit()
    var tls = TLSConfiguration.makeServerConfiguration(
        certificateChain: try NIOSSLCertificate.fromPEMBytes(readFile(pki + "/server.pem")).map { .certificate($0) },
        privateKey: .privateKey(try NIOSSLPrivateKey(bytes: readFile(pki + "/server-key.pem"), format: .pem))
    )
    tls.minimumTLSVersion = .tlsv13
    tls.certificateVerification = .noHostnameVerification
    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(readFile(pki + "/ca.pem")))
    tls.applicationProtocols = ["tern/1"]
    let context = try NIOSSLContext(configuration: tls)
    let server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.backlog, value: 4096)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                try channel.pipeline.syncOperations.addHandler(Answer())
            }
        }
        .bind(host: host, port: port).wait()
    print("serving on \(server.localAddress?.description ?? "?")")
    fflush(nil)
    try server.closeFuture.wait()
    exit(0)
}

/// Opens `count` mutual-TLS connections, each from its own address in `from` (an
/// IPv4 network), 100 handshakes at a time, and holds them. With `every` seconds, each
/// then sends 300 bytes (about a heartbeat with its health sample) that often, at a
/// phase of its own, so the floor sees the traffic a fleet's heartbeats make.
func hold(state: String, host: String, port: Int, count: Int, from: String, every: Int64? = nil) throws -> Never {
    raiseFileLimit()
    let context = try clientContext(state: state)
    let parts = from.split(separator: "/")
    let octets = parts.first.map { $0.split(separator: ".").compactMap { UInt32($0) } } ?? []
    guard parts.count == 2, octets.count == 4, let bits = UInt32(parts[1]), (8...30).contains(bits) else {
        print("FROM is an IPv4 network, e.g. 127.0.0.0/8")
        exit(2)
    }
    let mask = ~UInt32(0) << (32 - bits)
    let base = (octets[0] << 24 | octets[1] << 16 | octets[2] << 8 | octets[3]) & mask
    func source(_ index: Int) throws -> SocketAddress {
        // As tern-sim: hosts ending in .0 or .255 are skipped.
        let value = base + (UInt32(index / 254) * 256 + UInt32(index % 254) + 1) % ~mask
        return try SocketAddress(ipAddress: "\(value >> 24).\((value >> 16) & 255).\((value >> 8) & 255).\(value & 255)", port: 0)
    }
    let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                try channel.pipeline.syncOperations.addHandler(Discard())
            }
        }
    var held: [Channel] = []
    var next = 0
    while next < count {
        let batch = (next..<min(count, next + 100)).map { index in
            (try? source(index)).map { bootstrap.bind(to: $0).connect(host: host, port: port) }
                ?? MultiThreadedEventLoopGroup.singleton.any().makeFailedFuture(ChannelError.badInterfaceAddressFamily)
        }
        for future in batch {
            if let channel = try? future.wait() { held.append(channel) }
        }
        next += 100
    }
    if let every, every > 0 {
        let period = TimeAmount.seconds(every)
        for channel in held {
            let phase = TimeAmount.milliseconds(Int64.random(in: 0..<(every * 1000)))
            channel.eventLoop.scheduleRepeatedTask(initialDelay: phase, delay: period) { _ in
                channel.writeAndFlush(channel.allocator.buffer(repeating: 0x2A, count: 300), promise: nil)
            }
        }
    }
    print("held \(held.count)")
    fflush(nil)
    while true { sleep(3600) }
}
