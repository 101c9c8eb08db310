import Prometheus
import Wire

/// The controller's Prometheus metrics, served at `/metrics`.
///
/// A registry of its own (not the global MetricsSystem), so that several controllers
/// in one test process do not share counters.
public struct ControllerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let agentsConnected: Gauge
    let heartbeats: Counter
    let handshakeFailures: Counter
    let enrolmentsAccepted: Counter
    let enrolmentsRefused: Counter
    let subcloudsOnline: Gauge
    let subcloudsOffline: Gauge
    let alarmsActive: Gauge

    public init() {
        self.agentsConnected = self.registry.makeGauge(name: "tern_agents_connected", help: "Agents with an established connection")
        self.heartbeats = self.registry.makeCounter(name: "tern_heartbeats_total", help: "HEARTBEAT messages received")
        self.handshakeFailures = self.registry.makeCounter(name: "tern_handshake_failures_total", help: "Connections that ended before or at the handshake (TLS or protocol)")
        self.enrolmentsAccepted = self.registry.makeCounter(name: "tern_enrolments_total", labels: [("result", "accepted")], help: "Enrolment requests")
        self.enrolmentsRefused = self.registry.makeCounter(name: "tern_enrolments_total", labels: [("result", "refused")], help: "Enrolment requests")
        self.subcloudsOnline = self.registry.makeGauge(name: "tern_subclouds", labels: [("availability", "online")], help: "Subclouds by availability")
        self.subcloudsOffline = self.registry.makeGauge(name: "tern_subclouds", labels: [("availability", "offline")], help: "Subclouds by availability")
        self.alarmsActive = self.registry.makeGauge(name: "tern_alarms_active", help: "Active alarms across the fleet")
    }

    /// Steps of each strategy type per state, as of the last orchestration round.
    func recordSteps(_ type: StrategyType, _ steps: [StrategyStep]) {
        let counts = Dictionary(grouping: steps, by: \.state).mapValues(\.count)
        for state in StepState.allCases {
            self.registry.makeGauge(name: "tern_strategy_steps", labels: [("type", type.rawValue), ("state", state.rawValue)], help: "Strategy steps by state")
                .set(Double(counts[state] ?? 0))
        }
    }

    func recordStoreCommits(_ commits: Int) {
        self.registry.makeGauge(name: "tern_store_commits_total", help: "Store transactions that changed fleet tables since start").set(Double(commits))
    }

    /// Backup uploads received (transfer-stream bytes) and, of those, bytes held already (sent again after a cut).
    func recordUploads(bytes: Int, resent: Int) {
        self.registry.makeGauge(name: "tern_upload_bytes", help: "Backup upload stream bytes received since start").set(Double(bytes))
        self.registry.makeGauge(name: "tern_upload_resent_bytes", help: "Backup upload bytes received again after a cut, since start").set(Double(resent))
    }

    /// A listener's connections not authenticated yet, and how its accept gate behaved.
    func recordListener(_ port: String, _ connections: UnauthenticatedConnections) {
        let labels = [("port", port)]
        self.registry.makeGauge(name: "tern_unauthenticated_connections", labels: labels, help: "Accepted connections not authenticated yet").set(Double(connections.open))
        self.registry.makeGauge(name: "tern_unauthenticated_connections_peak", labels: labels, help: "Most unauthenticated connections at once since start").set(Double(connections.peak))
        self.registry.makeGauge(name: "tern_accepted_connections_total", labels: labels, help: "Connections accepted since start").set(Double(connections.accepted))
        self.registry.makeGauge(name: "tern_accept_pauses_total", labels: labels, help: "Times the listener stopped accepting at the cap of unauthenticated connections").set(Double(connections.pauses))
    }

    /// How long the last strategy of a type ran, from apply to its end.
    func strategyFinished(_ type: StrategyType, seconds: Double) {
        self.registry.makeGauge(name: "tern_strategy_duration_seconds", labels: [("type", type.rawValue)], help: "Duration of the last strategy of each type")
            .set(seconds)
    }

    /// The text exposition format.
    public func render() -> String { self.registry.emitToString() }
}
