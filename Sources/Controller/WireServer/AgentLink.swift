import NIOCore
import Wire

/// The way into one agent's connection from anywhere in the controller: a command
/// written here goes down that connection's pipeline (`TransferSink`, then
/// `WireConnectionHandler`), in the order written.
struct AgentLink: Sendable {
    let channel: any Channel

    /// Fails once the connection is closing or closed.
    func write(_ command: WireCommand) async throws {
        try await self.channel.writeAndFlush(command)
    }
}
