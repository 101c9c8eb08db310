import Prometheus

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

    /// The text exposition format.
    public func render() -> String { self.registry.emitToString() }
}
