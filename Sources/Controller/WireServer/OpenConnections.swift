import NIOConcurrencyHelpers
import NIOCore
import Wire

/// The protocol port's connections with a session running, whatever their state:
/// how many there are, and a way to reach all of them at once without a task each
/// (GOAWAY at shutdown goes straight into each channel's pipeline).
final class OpenConnections: Sendable {
    private let channels = NIOLockedValueBox([ObjectIdentifier: any Channel]())

    var count: Int { self.channels.withLockedValue { $0.count } }

    func opened(_ channel: any Channel) {
        self.channels.withLockedValue { $0[ObjectIdentifier(channel)] = channel }
    }

    func closed(_ channel: any Channel) {
        self.channels.withLockedValue { _ = $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Writes `command` on every open connection; returns how many.
    @discardableResult
    func broadcast(_ command: WireCommand) -> Int {
        let all = self.channels.withLockedValue { Array($0.values) }
        for channel in all { channel.writeAndFlush(command, promise: nil) }
        return all.count
    }

    /// Closes every open connection; returns how many.
    @discardableResult
    func closeAll() -> Int {
        let all = self.channels.withLockedValue { Array($0.values) }
        for channel in all { channel.close(promise: nil) }
        return all.count
    }
}
