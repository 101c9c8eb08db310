import NIOCore
import NIOEmbedded
import Testing
@testable import Wire

/// The caps a listener accepts under: connections still authenticating, and all its
/// connections open at once (a process out of descriptors fails wherever it opens the
/// next one). Past either the listener is paused, and read again once under both.
@Suite struct AcceptLimitTests {
    @Test("past the open-connection cap the listener pauses even with every connection authenticated; a close reads it again")
    func openLimit() async throws {
        let connections = UnauthenticatedConnections(limit: 10, openLimit: 2)
        let (listener, reads) = try Self.listener()
        let first = EmbeddedChannel(), second = EmbeddedChannel(), third = EmbeddedChannel()
        #expect(connections.take(first) && connections.take(second))
        // Both authenticate: they no longer count against the handshake cap, but stay open.
        connections.release(first)
        connections.release(second)
        #expect(connections.open == 0 && connections.openConnections == 2)
        #expect(!connections.take(third), "a third connection past openLimit")
        #expect(!connections.mayAccept(listener))
        let before = reads.count
        _ = try await first.close()
        first.embeddedEventLoop.run()
        listener.embeddedEventLoop.run()
        #expect(reads.count == before + 1, "a close under the cap reads the paused listener again")
        #expect(connections.openConnections == 1 && connections.mayAccept(listener) && connections.take(third))
        for connection in [second, third] {
            _ = try await connection.close()
            connection.embeddedEventLoop.run()
        }
        #expect(connections.openConnections == 0)
    }

    @Test("the handshake cap still pauses on its own, and an authentication under both caps reads the listener again")
    func handshakeLimit() async throws {
        let connections = UnauthenticatedConnections(limit: 1, openLimit: 5)
        let (listener, reads) = try Self.listener()
        let first = EmbeddedChannel(), second = EmbeddedChannel()
        #expect(connections.take(first))
        #expect(!connections.take(second) && !connections.mayAccept(listener))
        connections.release(first)
        listener.embeddedEventLoop.run()
        #expect(reads.count == 1 && connections.take(second))
        _ = try await first.close()
        _ = try await second.close()
    }

    /// A listener channel that counts the reads asked of it.
    static func listener() throws -> (EmbeddedChannel, ReadCounter) {
        let listener = EmbeddedChannel()
        let reads = ReadCounter()
        try listener.pipeline.syncOperations.addHandler(reads)
        return (listener, reads)
    }

    final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = Never
        var count = 0
        func read(context: ChannelHandlerContext) {
            self.count += 1
            context.read()
        }
    }
}
