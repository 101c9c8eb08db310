import NIOCore
import Wire

/// Which agents are connected right now and what they last said.
///
/// The fleet registry (a store) comes with the control plane; this is the
/// in-memory view the wire server keeps for it.
public actor ConnectedAgents {
    /// One connected agent.
    public struct Agent: Sendable {
        public var name: String
        public var software: String
        public var version: UInt32
        public var connectedAt: NIODeadline
        public var heartbeats: UInt64 = 0
        public var lastHeartbeat: Heartbeat?
        public var roundTrip: TimeAmount?
    }

    private var agents: [String: Agent] = [:]
    /// Connections in the order they arrived, to tell a replaced connection from the current one.
    private var generations: [String: Int] = [:]
    private var nextGeneration = 0

    public init() {}

    /// Registers a connection; returns its generation. A second connection with the
    /// same name replaces the first (it is the same site reconnecting).
    func connected(_ negotiated: Negotiated, now: NIODeadline) -> Int {
        self.nextGeneration += 1
        self.generations[negotiated.peerIdentity] = self.nextGeneration
        self.agents[negotiated.peerIdentity] = Agent(
            name: negotiated.peerIdentity, software: negotiated.peerSoftware, version: negotiated.version, connectedAt: now
        )
        return self.nextGeneration
    }

    func heartbeat(_ name: String, _ heartbeat: Heartbeat) {
        self.agents[name]?.heartbeats += 1
        self.agents[name]?.lastHeartbeat = heartbeat
    }

    func roundTrip(_ name: String, _ value: TimeAmount) {
        self.agents[name]?.roundTrip = value
    }

    func disconnected(_ name: String, generation: Int) {
        guard self.generations[name] == generation else { return }
        self.generations[name] = nil
        self.agents[name] = nil
    }

    /// The agents connected now, by name.
    public var all: [Agent] { self.agents.values.sorted { $0.name < $1.name } }

    public var count: Int { self.agents.count }
}
