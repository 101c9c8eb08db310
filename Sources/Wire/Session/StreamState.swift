/// Flow-control and half-close state of one open stream (PROTOCOL.md §6).
struct StreamState {
    /// DATA bytes we may still send.
    var outboundWindow: Int
    /// DATA bytes the peer may still send.
    var inboundWindow: Int
    /// Bytes consumed by the application and not yet returned to the peer.
    var unacknowledged: Int = 0
    /// We have not yet sent END_STREAM.
    var localOpen = true
    /// The peer has not yet sent END_STREAM.
    var remoteOpen = true
    /// Whether the peer opened it.
    var openedByPeer: Bool

    var isClosed: Bool { !self.localOpen && !self.remoteOpen }
}

/// A flow-control window that the peer grants us or we grant the peer.
enum Window {
    /// Adds a WINDOW_UPDATE increment; nil when the window would exceed 2^31-1 (PROTOCOL.md §6.2).
    static func add(_ increment: UInt32, to window: Int) -> Int? {
        let result = window + Int(increment)
        return result <= WireLimits.maxWindow ? result : nil
    }
}
