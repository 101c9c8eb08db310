import NIOCore

/// Every message of version 1, as carried in MESSAGE frames (PROTOCOL.md §10).
///
/// A MESSAGE payload is the message type as a varint, then the message's fields.
/// A type this peer does not know decodes as `.unknown` and is ignored on stream 0
/// (PROTOCOL.md §4.5), so a newer peer may add messages without breaking this one.
public enum Message: Hashable, Sendable {
    case hello(Hello)
    case welcome(Welcome)
    case heartbeat(Heartbeat)
    case healthReport(HealthReport)
    case alarmRaise(AlarmRaise)
    case alarmClear(AlarmClear)
    case firmwareInventory(FirmwareInventory)
    case configOffer(ConfigOffer)
    case configResult(ConfigResult)
    case transferOffer(TransferOffer)
    case transferRequest(TransferRequest)
    case transferEnd(TransferEnd)
    case transferAbort(TransferAbort)
    case command(Command)
    case commandResult(CommandResult)
    case enrolRequest(EnrolRequest)
    case enrolResponse(EnrolResponse)
    case renewRequest(RenewRequest)
    case renewResponse(RenewResponse)
    case deploy(Deploy)
    case deployStatus(DeployStatus)
    case backupRequest(BackupRequest)
    case backupStatus(BackupStatus)
    case backupStored(BackupStored)
    /// A message type this implementation does not know.
    case unknown(type: UInt64, payload: ByteBuffer)

    /// The message type numbers (PROTOCOL.md §10).
    public enum Kind: UInt64, Sendable, CaseIterable {
        case hello = 1
        case welcome = 2
        case heartbeat = 3
        case healthReport = 4
        case alarmRaise = 5
        case alarmClear = 6
        case firmwareInventory = 7
        case configOffer = 8
        case configResult = 9
        case transferOffer = 10
        case transferRequest = 11
        case transferEnd = 12
        case transferAbort = 13
        case command = 14
        case commandResult = 15
        case enrolRequest = 16
        case enrolResponse = 17
        case renewRequest = 18
        case renewResponse = 19
        case deploy = 20
        case deployStatus = 21
        case backupRequest = 22
        case backupStatus = 23
        case backupStored = 24
    }

    /// The type number written before the fields.
    public var typeNumber: UInt64 {
        switch self {
        case .hello: return Kind.hello.rawValue
        case .welcome: return Kind.welcome.rawValue
        case .heartbeat: return Kind.heartbeat.rawValue
        case .healthReport: return Kind.healthReport.rawValue
        case .alarmRaise: return Kind.alarmRaise.rawValue
        case .alarmClear: return Kind.alarmClear.rawValue
        case .firmwareInventory: return Kind.firmwareInventory.rawValue
        case .configOffer: return Kind.configOffer.rawValue
        case .configResult: return Kind.configResult.rawValue
        case .transferOffer: return Kind.transferOffer.rawValue
        case .transferRequest: return Kind.transferRequest.rawValue
        case .transferEnd: return Kind.transferEnd.rawValue
        case .transferAbort: return Kind.transferAbort.rawValue
        case .command: return Kind.command.rawValue
        case .commandResult: return Kind.commandResult.rawValue
        case .enrolRequest: return Kind.enrolRequest.rawValue
        case .enrolResponse: return Kind.enrolResponse.rawValue
        case .renewRequest: return Kind.renewRequest.rawValue
        case .renewResponse: return Kind.renewResponse.rawValue
        case .deploy: return Kind.deploy.rawValue
        case .deployStatus: return Kind.deployStatus.rawValue
        case .backupRequest: return Kind.backupRequest.rawValue
        case .backupStatus: return Kind.backupStatus.rawValue
        case .backupStored: return Kind.backupStored.rawValue
        case .unknown(let type, _): return type
        }
    }

    /// Decodes a whole MESSAGE payload; throws `MALFORMED_MESSAGE`.
    public init(from payload: ByteBuffer) throws {
        var payload = payload
        let type = try payload.readCompleteVarint()
        guard let kind = Kind(rawValue: type) else {
            self = .unknown(type: type, payload: payload)
            return
        }
        let fields = FieldReader(payload)
        switch kind {
        case .hello: self = .hello(try Hello(fields: fields, depth: 0))
        case .welcome: self = .welcome(try Welcome(fields: fields, depth: 0))
        case .heartbeat: self = .heartbeat(try Heartbeat(fields: fields, depth: 0))
        case .healthReport: self = .healthReport(try HealthReport(fields: fields, depth: 0))
        case .alarmRaise: self = .alarmRaise(try AlarmRaise(fields: fields, depth: 0))
        case .alarmClear: self = .alarmClear(try AlarmClear(fields: fields, depth: 0))
        case .firmwareInventory: self = .firmwareInventory(try FirmwareInventory(fields: fields, depth: 0))
        case .configOffer: self = .configOffer(try ConfigOffer(fields: fields, depth: 0))
        case .configResult: self = .configResult(try ConfigResult(fields: fields, depth: 0))
        case .transferOffer: self = .transferOffer(try TransferOffer(fields: fields, depth: 0))
        case .transferRequest: self = .transferRequest(try TransferRequest(fields: fields, depth: 0))
        case .transferEnd: self = .transferEnd(try TransferEnd(fields: fields, depth: 0))
        case .transferAbort: self = .transferAbort(try TransferAbort(fields: fields, depth: 0))
        case .command: self = .command(try Command(fields: fields, depth: 0))
        case .commandResult: self = .commandResult(try CommandResult(fields: fields, depth: 0))
        case .enrolRequest: self = .enrolRequest(try EnrolRequest(fields: fields, depth: 0))
        case .enrolResponse: self = .enrolResponse(try EnrolResponse(fields: fields, depth: 0))
        case .renewRequest: self = .renewRequest(try RenewRequest(fields: fields, depth: 0))
        case .renewResponse: self = .renewResponse(try RenewResponse(fields: fields, depth: 0))
        case .deploy: self = .deploy(try Deploy(fields: fields, depth: 0))
        case .deployStatus: self = .deployStatus(try DeployStatus(fields: fields, depth: 0))
        case .backupRequest: self = .backupRequest(try BackupRequest(fields: fields, depth: 0))
        case .backupStatus: self = .backupStatus(try BackupStatus(fields: fields, depth: 0))
        case .backupStored: self = .backupStored(try BackupStored(fields: fields, depth: 0))
        }
    }

    /// Appends the type number and the fields in canonical form.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeVarint(self.typeNumber)
        var writer = FieldWriter(buffer)
        buffer = ByteBuffer()  // hand the storage to the writer without a copy
        switch self {
        case .hello(let m): m.write(fields: &writer)
        case .welcome(let m): m.write(fields: &writer)
        case .heartbeat(let m): m.write(fields: &writer)
        case .healthReport(let m): m.write(fields: &writer)
        case .alarmRaise(let m): m.write(fields: &writer)
        case .alarmClear(let m): m.write(fields: &writer)
        case .firmwareInventory(let m): m.write(fields: &writer)
        case .configOffer(let m): m.write(fields: &writer)
        case .configResult(let m): m.write(fields: &writer)
        case .transferOffer(let m): m.write(fields: &writer)
        case .transferRequest(let m): m.write(fields: &writer)
        case .transferEnd(let m): m.write(fields: &writer)
        case .transferAbort(let m): m.write(fields: &writer)
        case .command(let m): m.write(fields: &writer)
        case .commandResult(let m): m.write(fields: &writer)
        case .enrolRequest(let m): m.write(fields: &writer)
        case .enrolResponse(let m): m.write(fields: &writer)
        case .renewRequest(let m): m.write(fields: &writer)
        case .renewResponse(let m): m.write(fields: &writer)
        case .deploy(let m): m.write(fields: &writer)
        case .deployStatus(let m): m.write(fields: &writer)
        case .backupRequest(let m): m.write(fields: &writer)
        case .backupStatus(let m): m.write(fields: &writer)
        case .backupStored(let m): m.write(fields: &writer)
        case .unknown(_, let payload): writer.buffer.writeImmutableBuffer(payload)
        }
        buffer = writer.buffer
    }

    /// Whether the message may open a stream (PROTOCOL.md §6.1). Only a transfer request does in version 1.
    public var opensStream: Bool {
        if case .transferRequest = self { return true }
        return false
    }
}
