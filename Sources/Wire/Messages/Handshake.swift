/// HELLO: the agent's first frame (PROTOCOL.md §5.1, §10.1).
public struct Hello: Hashable, Sendable, FieldCoded {
    /// Protocol versions the agent speaks, any order (field 1, repeated varint).
    public var versions: [UInt32]
    /// The agent's identity: its subcloud name; must match its certificate (field 2).
    public var agentID: String
    /// Software name and version, for the operator (field 3).
    public var software: String
    /// Optional features it supports, such as `zlib` (field 4, repeated string).
    public var features: [String]
    /// Largest frame payload it accepts (field 5).
    public var maxFrameSize: UInt32
    /// The window it grants each stream the controller opens or sends on (field 6).
    public var streamWindow: UInt32
    /// The window it grants the whole connection (field 7).
    public var connectionWindow: UInt32
    /// Concurrent streams the controller may open (field 8).
    public var maxStreams: UInt32

    public init(
        versions: [UInt32], agentID: String, software: String, features: [String],
        maxFrameSize: UInt32, streamWindow: UInt32, connectionWindow: UInt32, maxStreams: UInt32
    ) {
        self.maxStreams = maxStreams
        self.versions = versions
        self.agentID = agentID
        self.software = software
        self.features = features
        self.maxFrameSize = maxFrameSize
        self.streamWindow = streamWindow
        self.connectionWindow = connectionWindow
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(versions: [], agentID: "", software: "", features: [], maxFrameSize: 0, streamWindow: 0, connectionWindow: 0, maxStreams: 0)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: try self.versions.appendBounded(try field.uint32(), field: 1)
            case 2: self.agentID = try field.string(max: 255)
            case 3: self.software = try field.string(max: 255)
            case 4: try self.features.appendBounded(try field.string(max: 64), field: 4)
            case 5: self.maxFrameSize = try field.uint32()
            case 6: self.streamWindow = try field.uint32()
            case 7: self.connectionWindow = try field.uint32()
            case 8: self.maxStreams = try field.uint32()
            default: break  // PROTOCOL.md §4.3: unknown fields are skipped.
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.repeatedVarint(1, self.versions)
        fields.string(2, self.agentID)
        fields.string(3, self.software)
        fields.repeatedString(4, self.features)
        fields.varint(5, self.maxFrameSize)
        fields.varint(6, self.streamWindow)
        fields.varint(7, self.connectionWindow)
        fields.varint(8, self.maxStreams)
    }
}

/// WELCOME: the controller's answer to an acceptable HELLO (PROTOCOL.md §5.2, §10.2).
public struct Welcome: Hashable, Sendable, FieldCoded {
    /// The chosen version: the highest both speak (field 1).
    public var version: UInt32
    /// The controller's name (field 2).
    public var controllerID: String
    /// Software name and version (field 3).
    public var software: String
    /// Features both will use: the intersection (field 4).
    public var features: [String]
    /// Largest frame payload the controller accepts (field 5).
    public var maxFrameSize: UInt32
    /// Window the controller grants each stream (field 6).
    public var streamWindow: UInt32
    /// Window the controller grants the connection (field 7).
    public var connectionWindow: UInt32
    /// How often the agent sends HEARTBEAT, in milliseconds (field 8).
    public var heartbeatIntervalMillis: UInt32
    /// Silence after which either side closes with IDLE_TIMEOUT, in milliseconds (field 9).
    public var idleTimeoutMillis: UInt32
    /// Concurrent streams the agent may open (field 10).
    public var maxStreams: UInt32

    public init(
        version: UInt32, controllerID: String, software: String, features: [String],
        maxFrameSize: UInt32, streamWindow: UInt32, connectionWindow: UInt32,
        heartbeatIntervalMillis: UInt32, idleTimeoutMillis: UInt32, maxStreams: UInt32
    ) {
        self.version = version
        self.controllerID = controllerID
        self.software = software
        self.features = features
        self.maxFrameSize = maxFrameSize
        self.streamWindow = streamWindow
        self.connectionWindow = connectionWindow
        self.heartbeatIntervalMillis = heartbeatIntervalMillis
        self.idleTimeoutMillis = idleTimeoutMillis
        self.maxStreams = maxStreams
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(
            version: 0, controllerID: "", software: "", features: [], maxFrameSize: 0, streamWindow: 0,
            connectionWindow: 0, heartbeatIntervalMillis: 0, idleTimeoutMillis: 0, maxStreams: 0
        )
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.version = try field.uint32()
            case 2: self.controllerID = try field.string(max: 255)
            case 3: self.software = try field.string(max: 255)
            case 4: try self.features.appendBounded(try field.string(max: 64), field: 4)
            case 5: self.maxFrameSize = try field.uint32()
            case 6: self.streamWindow = try field.uint32()
            case 7: self.connectionWindow = try field.uint32()
            case 8: self.heartbeatIntervalMillis = try field.uint32()
            case 9: self.idleTimeoutMillis = try field.uint32()
            case 10: self.maxStreams = try field.uint32()
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.varint(1, self.version)
        fields.string(2, self.controllerID)
        fields.string(3, self.software)
        fields.repeatedString(4, self.features)
        fields.varint(5, self.maxFrameSize)
        fields.varint(6, self.streamWindow)
        fields.varint(7, self.connectionWindow)
        fields.varint(8, self.heartbeatIntervalMillis)
        fields.varint(9, self.idleTimeoutMillis)
        fields.varint(10, self.maxStreams)
    }
}
