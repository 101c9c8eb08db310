/// HEARTBEAT: the agent is alive; sent every heartbeat interval (PROTOCOL.md §10.3).
public struct Heartbeat: Hashable, Sendable, FieldCoded {
    /// Increases by one per heartbeat on a connection, from 1 (field 1).
    public var sequence: UInt64
    /// The agent's wall clock, Unix milliseconds (field 2).
    public var sentAtMillis: UInt64
    /// Health since the last report: present when something changed (field 3).
    public var health: HealthReport?

    public init(sequence: UInt64, sentAtMillis: UInt64, health: HealthReport? = nil) {
        self.sequence = sequence
        self.sentAtMillis = sentAtMillis
        self.health = health
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(sequence: 0, sentAtMillis: 0)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.sequence = try field.uint64()
            case 2: self.sentAtMillis = try field.uint64()
            case 3: self.health = try field.message(HealthReport.self, depth: depth)
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.varint(1, self.sequence)
        fields.varint(2, self.sentAtMillis)
        if let health = self.health { fields.message(3, health) }
    }
}

/// HEALTH_REPORT: host health read from /proc and statvfs (PROTOCOL.md §10.4).
///
/// Also embedded in HEARTBEAT. A field left out means "unchanged since the last report"
/// unless `full` is set.
public struct HealthReport: Hashable, Sendable, FieldCoded {
    /// All fields are present: the receiver replaces rather than merges (field 1).
    public var full: Bool
    /// CPU busy, in thousandths of all cores (field 2).
    public var cpuPermille: UInt32?
    /// Total memory, bytes (field 3).
    public var memoryTotalBytes: UInt64?
    /// Memory available, bytes (field 4).
    public var memoryAvailableBytes: UInt64?
    /// One-minute load average × 1000 (field 5).
    public var load1Milli: UInt32?
    /// Seconds since boot (field 6).
    public var uptimeSeconds: UInt64?
    /// Per-mount use (field 7, repeated).
    public var disks: [DiskUsage]

    public init(
        full: Bool = false, cpuPermille: UInt32? = nil, memoryTotalBytes: UInt64? = nil,
        memoryAvailableBytes: UInt64? = nil, load1Milli: UInt32? = nil, uptimeSeconds: UInt64? = nil,
        disks: [DiskUsage] = []
    ) {
        self.full = full
        self.cpuPermille = cpuPermille
        self.memoryTotalBytes = memoryTotalBytes
        self.memoryAvailableBytes = memoryAvailableBytes
        self.load1Milli = load1Milli
        self.uptimeSeconds = uptimeSeconds
        self.disks = disks
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init()
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.full = try field.bool()
            case 2: self.cpuPermille = try field.uint32()
            case 3: self.memoryTotalBytes = try field.uint64()
            case 4: self.memoryAvailableBytes = try field.uint64()
            case 5: self.load1Milli = try field.uint32()
            case 6: self.uptimeSeconds = try field.uint64()
            case 7: try self.disks.appendBounded(try field.message(DiskUsage.self, depth: depth), field: 7)
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.bool(1, self.full)
        // Optional scalars are written even when zero: presence carries meaning here.
        if let value = self.cpuPermille { fields.present(2, UInt64(value)) }
        if let value = self.memoryTotalBytes { fields.present(3, value) }
        if let value = self.memoryAvailableBytes { fields.present(4, value) }
        if let value = self.load1Milli { fields.present(5, UInt64(value)) }
        if let value = self.uptimeSeconds { fields.present(6, value) }
        fields.repeatedMessage(7, self.disks)
    }
}

/// Use of one mounted filesystem (embedded in HEALTH_REPORT).
public struct DiskUsage: Hashable, Sendable, FieldCoded {
    /// Mount point (field 1).
    public var mount: String
    /// Size, bytes (field 2).
    public var totalBytes: UInt64
    /// Used, bytes (field 3).
    public var usedBytes: UInt64

    public init(mount: String, totalBytes: UInt64, usedBytes: UInt64) {
        self.mount = mount
        self.totalBytes = totalBytes
        self.usedBytes = usedBytes
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(mount: "", totalBytes: 0, usedBytes: 0)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.mount = try field.string(max: 1024)
            case 2: self.totalBytes = try field.uint64()
            case 3: self.usedBytes = try field.uint64()
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.string(1, self.mount)
        fields.varint(2, self.totalBytes)
        fields.varint(3, self.usedBytes)
    }
}
