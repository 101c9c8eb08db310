/// DEPLOY: one piece of desired content for the site — an OSTree commit, a container
/// image or a firmware image — with the objects it is built from (PROTOCOL.md §10.20).
///
/// The agent fetches the objects it does not hold (TRANSFER_REQUEST, §7.4) and, when
/// `activate` is set, applies them; otherwise it only keeps them (prestage). Sent on
/// every connection until the agent reports the deployment finished, so an agent
/// MUST treat a repeat as a question about its state, not a new job.
public struct Deploy: Hashable, Sendable, FieldCoded {
    /// The kind as this implementation knows it; nil for a kind from a newer peer,
    /// which the agent refuses by name.
    public var contentKind: ContentKind? { ContentKind(rawValue: self.kind) }

    /// Chosen by the controller, echoed in DEPLOY_STATUS (field 1).
    public var deploymentID: UInt64
    /// `ostree`, `image` or `firmware` (field 2).
    public var kind: String
    /// The OSTree ref, the image `name:tag`, or the firmware component (field 3).
    public var name: String
    /// The target: commit checksum, manifest digest (`sha256:…`) or firmware version (field 4).
    public var version: String
    /// The objects to fetch (field 5, repeated).
    public var objects: [ObjectRef]
    /// Apply now (true) or only fetch and keep (false, prestage) (field 6).
    public var activate: Bool
    /// What the objects start from: the OSTree commit the delta applies to, empty for
    /// a delta from scratch (field 7).
    public var from: String

    public init(deploymentID: UInt64, kind: String, name: String, version: String, objects: [ObjectRef], activate: Bool, from: String = "") {
        self.deploymentID = deploymentID
        self.kind = kind
        self.name = name
        self.version = version
        self.objects = objects
        self.activate = activate
        self.from = from
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(deploymentID: 0, kind: "", name: "", version: "", objects: [], activate: false)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.deploymentID = try field.uint64()
            case 2: self.kind = try field.string(max: 64)
            case 3: self.name = try field.string(max: 1024)
            case 4: self.version = try field.string(max: 255)
            case 5: try self.objects.appendBounded(try field.message(ObjectRef.self, depth: depth), field: 5)
            case 6: self.activate = try field.bool()
            case 7: self.from = try field.string(max: 255)
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.varint(1, self.deploymentID)
        fields.string(2, self.kind)
        fields.string(3, self.name)
        fields.string(4, self.version)
        fields.repeatedMessage(5, self.objects)
        fields.bool(6, self.activate)
        fields.string(7, self.from)
    }
}

/// DEPLOY_STATUS: where a deployment stands on the site, or — with deployment id 0 —
/// what the site runs now (PROTOCOL.md §10.21). The agent sends one with id 0 per
/// installed item (its OSTree commit, each image) at connect and after each change.
public struct DeployStatus: Hashable, Sendable, FieldCoded {
    public enum Status: UInt32, Sendable {
        /// Id 0: this is installed and current.
        case current = 0
        /// Objects are being fetched.
        case fetching = 1
        /// Every object is held; nothing was applied (prestage).
        case prestaged = 2
        /// Applied: `version` is what runs now.
        case activated = 3
        /// Nothing changed on the site; `detail` says why.
        case failed = 4
    }

    /// Field 1; 0 for an inventory entry.
    public var deploymentID: UInt64
    /// Field 2.
    public var kind: String
    /// Field 3.
    public var name: String
    /// What the site has now (field 4).
    public var version: String
    /// Field 5; unknown values decode as `failed`.
    public var status: Status
    /// For the operator (field 6).
    public var detail: String

    public init(deploymentID: UInt64, kind: String, name: String, version: String, status: Status, detail: String = "") {
        self.deploymentID = deploymentID
        self.kind = kind
        self.name = name
        self.version = version
        self.status = status
        self.detail = detail
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(deploymentID: 0, kind: "", name: "", version: "", status: .current)
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.deploymentID = try field.uint64()
            case 2: self.kind = try field.string(max: 64)
            case 3: self.name = try field.string(max: 1024)
            case 4: self.version = try field.string(max: 255)
            case 5: self.status = Status(rawValue: try field.uint32()) ?? .failed
            case 6: self.detail = try field.string()
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.varint(1, self.deploymentID)
        fields.string(2, self.kind)
        fields.string(3, self.name)
        fields.string(4, self.version)
        fields.varint(5, self.status.rawValue)
        fields.string(6, self.detail)
    }
}

/// The kinds of content DEPLOY carries (field 2 of DEPLOY and DEPLOY_STATUS, as text
/// on the wire so that a newer kind reaches an older agent as a clear refusal).
public enum ContentKind: String, Codable, Sendable, CaseIterable {
    case ostree
    case image
    case firmware
    /// A restore: the objects are a backup's manifest; its chunks are fetched after it (PROTOCOL.md §7.6).
    case backup
}
