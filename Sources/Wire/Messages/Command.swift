/// COMMAND: run one allow-listed action on the site (PROTOCOL.md §10.14).
///
/// The action is a name the agent looks up in its own allow-list; the protocol has
/// no way to carry a shell command.
public struct Command: Hashable, Sendable, FieldCoded {
    /// Chosen by the controller, echoed in the result (field 1).
    public var commandID: UInt64
    /// Allow-listed action name, e.g. `reload-config` (field 2).
    public var action: String
    /// Named arguments (field 3, repeated).
    public var arguments: [Argument]

    public init(commandID: UInt64, action: String, arguments: [Argument] = []) {
        self.commandID = commandID
        self.action = action
        self.arguments = arguments
    }

    /// One named argument.
    public struct Argument: Hashable, Sendable, FieldCoded {
        /// Field 1.
        public var name: String
        /// Field 2.
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }

        init(fields: FieldReader, depth: Int) throws {
            self.init(name: "", value: "")
            var fields = fields
            while let field = try fields.next() {
                switch field.number {
                case 1: self.name = try field.string(max: 64)
                case 2: self.value = try field.string()
                default: break
                }
            }
        }

        func write(fields: inout FieldWriter) {
            fields.string(1, self.name)
            fields.string(2, self.value)
        }
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(commandID: 0, action: "")
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.commandID = try field.uint64()
            case 2: self.action = try field.string(max: 64)
            case 3: try self.arguments.appendBounded(try field.message(Argument.self, depth: depth), field: 3)
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.varint(1, self.commandID)
        fields.string(2, self.action)
        fields.repeatedMessage(3, self.arguments)
    }
}

/// COMMAND_RESULT: how a command ended (PROTOCOL.md §10.15).
public struct CommandResult: Hashable, Sendable, FieldCoded {
    public enum Status: UInt32, Sendable {
        case succeeded = 0
        case failed = 1
        /// Not on the allow-list, or arguments refused: nothing ran.
        case rejected = 2
    }

    /// Field 1.
    public var commandID: UInt64
    /// Field 2; unknown values decode as `failed`.
    public var status: Status
    /// Exit status of the action, ZigZag-encoded (field 3).
    public var exitCode: Int64
    /// The tail of its output, at most 4 KiB (field 4).
    public var output: String

    public init(commandID: UInt64, status: Status, exitCode: Int64, output: String) {
        self.commandID = commandID
        self.status = status
        self.exitCode = exitCode
        self.output = output
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(commandID: 0, status: .succeeded, exitCode: 0, output: "")
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.commandID = try field.uint64()
            case 2: self.status = Status(rawValue: try field.uint32()) ?? .failed
            case 3: self.exitCode = try field.int64()
            case 4: self.output = try field.string()
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.varint(1, self.commandID)
        fields.varint(2, self.status.rawValue)
        fields.signed(3, self.exitCode)
        fields.string(4, self.output)
    }
}
