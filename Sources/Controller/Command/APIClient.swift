import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 client for the CLI: one request per connection to the
/// controller's API on the operator's machine.
struct APIClient {
    let host: String
    let port: Int
    let token: String

    struct Failure: Error, CustomStringConvertible {
        var status: HTTPResponseStatus
        var message: String
        var description: String { "\(self.status.code) \(self.status.reasonPhrase): \(self.message)" }
    }

    /// Finds the API from `--api URL` or the data directory's `api-address`, and the
    /// token from `--token` or the data directory's `api-token` (mode 0600).
    init(options: ClientOptions) throws {
        let address = try options.api ?? {
            guard let text = try? String(contentsOfFile: options.data + "/api-address", encoding: .utf8) else {
                throw ValidationFailure("no --api given and no api-address in \(options.data): is the controller running?")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }()
        guard let url = URL(string: address), let host = url.host, let port = url.port else {
            throw ValidationFailure("\(address) is not an http://HOST:PORT address")
        }
        self.host = host
        self.port = port
        if let token = options.token {
            self.token = token
        } else if let text = try? String(contentsOfFile: options.data + "/api-token", encoding: .utf8) {
            self.token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            throw ValidationFailure("no --token given and \(options.data)/api-token cannot be read")
        }
    }

    /// Sends a request; returns the body of a 2xx response, throws `Failure` otherwise.
    func send(_ method: HTTPMethod, _ path: String, body: Data? = nil) async throws -> Data {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: self.host, port: self.port) { channel in
                channel.eventLoop.makeCompletedFuture {
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

/// A usage problem, reported as ArgumentParser would.
struct ValidationFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
