import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Platform
import Wire

/// A small HTTP/1.1 client for the operator API: one request per connection.
/// The CLI and the benchmarks use it.
public struct APIClient: Sendable {
    public let host: String
    public let port: Int
    public let token: String
    /// Set for an API served over TLS (`--api-tls`): trusts the controller's CA only.
    public let tls: TLSConfiguration?

    public init(host: String, port: Int, token: String, tls: TLSConfiguration? = nil) {
        self.host = host
        self.port = port
        self.token = token
        self.tls = tls
    }

    /// TLS 1.3 to an API whose certificate the CA in `caPEM` issued.
    public static func tls(trusting caPEM: String) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        return configuration
    }

    public struct Failure: Error, CustomStringConvertible {
        public var status: HTTPResponseStatus
        public var message: String
        public var description: String { "\(self.status.code) \(self.status.reasonPhrase): \(self.message)" }
    }

    /// Sends a request; returns the body of a 2xx response, throws `Failure` otherwise.
    public func send(_ method: HTTPMethod, _ path: String, body: Data? = nil) async throws -> Data {
        // A connection closed before the request could be written carried nothing: try again.
        // (Seen now and then under load in tern-bench fanout; the cause is not yet found.)
        for _ in 0..<2 {
            do {
                return try await self.sendOnce(method, path, body: body)
            } catch ChannelError.ioOnClosedChannel {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        return try await self.sendOnce(method, path, body: body)
    }

    private func sendOnce(_ method: HTTPMethod, _ path: String, body: Data?) async throws -> Data {
        let context = try self.tls.map { try NIOSSLContext(configuration: $0) }
        let host = self.host
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
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
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
            head.headers.add(name: "Host", value: "\(self.host):\(self.port)")
            head.headers.add(name: "Authorization", value: "Bearer \(self.token)")
            head.headers.add(name: "Connection", value: "close")
            if let body {
                head.headers.add(name: "Content-Type", value: "application/json")
                head.headers.add(name: "Content-Length", value: "\(body.count)")
            } else {
                head.headers.add(name: "Content-Length", value: "0")
            }
            try await outbound.write(.head(head))
            if let body { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            try await outbound.write(.end(nil))

            var status = HTTPResponseStatus.ok
            var collected = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let response): status = response.status
                case .body(var bytes): collected.writeBuffer(&bytes)
                case .end:
                    let data = Data(collected.readableBytesView)
                    guard (200..<300).contains(status.code) else {
                        let message = (try? JSONDecoder().decode([String: [String: String]].self, from: data))?["error"]?["message"]
                            ?? (try? JSONDecoder().decode([String: String].self, from: data))?["error"]
                            ?? String(decoding: data, as: UTF8.self)
                        throw Failure(status: status, message: message)
                    }
                    return data
                }
            }
            throw Failure(status: .badGateway, message: "the controller closed the connection early")
        }
    }
}

extension APIClient: KeyMaterialRedacting {
    public var redactedDescription: String { "APIClient(\(self.host):\(self.port), token redacted)" }
}
