import Logging
import Wire

/// What every part of the controller shares: passed by initializer, not looked up.
public struct ControllerContext: Sendable {
    public let configuration: ControllerConfiguration
    public let store: any FleetStore
    public let live: LiveFleet
    public let healthBook: HealthBook
    public let pki: ControllerPKI
    public let metrics: ControllerMetrics
    /// Content-addressed objects and their block cache.
    public let objects: ObjectStore
    /// Desired config, software, images and firmware per subcloud.
    public let content: ContentPlane
    public let logger: Logger
}
