import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Platform

/// One HTTP/1.1 request on its own connection, with a deadline for the whole
/// exchange: what the CLI's API client and the Redfish client both send.
public struct HTTPExchange: Sendable {
    public var host: String
    public var port: Int
    public var tls: TLSConfiguration?
    /// Connect, send and read the whole answer within this.
    public var timeout: TimeAmount

    public init(host: String, port: Int, tls: TLSConfiguration? = nil, timeout: TimeAmount = .seconds(30)) {
        self.host = host
        self.port = port
        self.tls = tls
        self.timeout = timeout
    }

    public struct Response: Sendable {
        public var status: HTTPResponseStatus
        public var headers: HTTPHeaders
        public var body: Data
    }

    /// The exchange took longer than `timeout`.
    public struct TimedOut: Error, CustomStringConvertible {
        public var description: String
    }

    public func send(_ method: HTTPMethod, _ path: String, headers: [(String, String)], body: Data?) async throws -> Response {
        let context = try self.tls.map { try NIOSSLContext(configuration: $0) }
        let host = self.host
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(min(self.timeout, .seconds(10)))
            .connect(host: self.host, port: self.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: context, serverHostname: HostPort.isIPLiteral(host) ? nil : host)
                        )
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        // The deadline closes the channel; the reader below then ends with an error.
        let deadline = channel.channel.eventLoop.scheduleTask(in: self.timeout) { channel.channel.close(promise: nil) }
        defer { deadline.cancel() }
        let started = NIODeadline.now()
        do {
            return try await channel.executeThenClose { inbound, outbound in
                var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
                head.headers.add(name: "Host", value: "\(self.host):\(self.port)")
                head.headers.add(name: "Connection", value: "close")
                for (name, value) in headers { head.headers.add(name: name, value: value) }
                head.headers.add(name: "Content-Length", value: "\(body?.count ?? 0)")
                try await outbound.write(.head(head))
                if let body { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                try await outbound.write(.end(nil))

                var response: HTTPResponseHead?
                var collected = ByteBuffer()
                for try await part in inbound {
                    switch part {
                    case .head(let head): response = head
                    case .body(var bytes): collected.writeBuffer(&bytes)
                    case .end:
                        guard let response else { break }
                        return Response(status: response.status, headers: response.headers, body: Data(collected.readableBytesView))
                    }
                }
                throw ChannelError.eof
            }
        } catch {
            if NIODeadline.now() - started >= self.timeout {
                throw TimedOut(description: "\(method) \(self.host):\(self.port)\(path) got no answer within \(self.timeout.nanoseconds / 1_000_000_000) s")
            }
            throw error
        }
    }
}
