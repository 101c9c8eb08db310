/// Alarm severity, as in StarlingX fault management (PROTOCOL.md §10.5).
public enum AlarmSeverity: UInt32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case critical = 1
    case major = 2
    case minor = 3
    case warning = 4

    public var description: String {
        switch self {
        case .critical: return "critical"
        case .major: return "major"
        case .minor: return "minor"
        case .warning: return "warning"
        }
    }
}

/// ALARM_RAISE: a condition on the site that an operator should see (PROTOCOL.md §10.5).
///
/// An alarm is identified by (`alarmID`, `entity`); raising it again updates it.
public struct AlarmRaise: Hashable, Sendable, FieldCoded {
    /// Kind of alarm, dotted like StarlingX ids, e.g. `100.104` (field 1).
    public var alarmID: String
    /// What the alarm is about, e.g. `host=edge-01.filesystem=/var` (field 2).
    public var entity: String
    /// Field 3; an unknown value from a newer peer decodes as `major`.
    public var severity: AlarmSeverity
    /// Field 4.
    public var reason: String
    /// Field 5.
    public var probableCause: String
    /// Field 6.
    public var repairAction: String
    /// Unix milliseconds (field 7).
    public var raisedAtMillis: UInt64
    /// Whether service is affected (field 8).
    public var serviceAffecting: Bool

    public init(
        alarmID: String, entity: String, severity: AlarmSeverity, reason: String, probableCause: String,
        repairAction: String, raisedAtMillis: UInt64, serviceAffecting: Bool
    ) {
        self.alarmID = alarmID
        self.entity = entity
        self.severity = severity
        self.reason = reason
        self.probableCause = probableCause
        self.repairAction = repairAction
        self.raisedAtMillis = raisedAtMillis
        self.serviceAffecting = serviceAffecting
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(alarmID: "", entity: "", severity: .major, reason: "", probableCause: "", repairAction: "", raisedAtMillis: 0, serviceAffecting: false)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.alarmID = try field.string(max: 64)
            case 2: self.entity = try field.string(max: 512)
            case 3: self.severity = AlarmSeverity(rawValue: try field.uint32()) ?? .major
            case 4: self.reason = try field.string()
            case 5: self.probableCause = try field.string(max: 512)
            case 6: self.repairAction = try field.string()
            case 7: self.raisedAtMillis = try field.uint64()
            case 8: self.serviceAffecting = try field.bool()
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.string(1, self.alarmID)
        fields.string(2, self.entity)
        fields.varint(3, self.severity.rawValue)
        fields.string(4, self.reason)
        fields.string(5, self.probableCause)
        fields.string(6, self.repairAction)
        fields.varint(7, self.raisedAtMillis)
        fields.bool(8, self.serviceAffecting)
    }
}

/// ALARM_CLEAR: the condition is gone (PROTOCOL.md §10.6).
public struct AlarmClear: Hashable, Sendable, FieldCoded {
    /// Field 1.
    public var alarmID: String
    /// Field 2.
    public var entity: String
    /// Unix milliseconds (field 3).
    public var clearedAtMillis: UInt64

    public init(alarmID: String, entity: String, clearedAtMillis: UInt64) {
        self.alarmID = alarmID
        self.entity = entity
        self.clearedAtMillis = clearedAtMillis
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(alarmID: "", entity: "", clearedAtMillis: 0)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.alarmID = try field.string(max: 64)
            case 2: self.entity = try field.string(max: 512)
            case 3: self.clearedAtMillis = try field.uint64()
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.string(1, self.alarmID)
        fields.string(2, self.entity)
        fields.varint(3, self.clearedAtMillis)
    }
}
