/// FIRMWARE_INVENTORY: what firmware the site runs; sent at connect and on change (PROTOCOL.md §10.7).
public struct FirmwareInventory: Hashable, Sendable, FieldCoded {
    /// Field 1, repeated.
    public var components: [FirmwareComponent]

    public init(components: [FirmwareComponent]) { self.components = components }

    init(fields: FieldReader, depth: Int) throws {
        self.init(components: [])
        var fields = fields
        while let field = try fields.next() {
            if field.number == 1 {
                try self.components.appendBounded(try field.message(FirmwareComponent.self, depth: depth), field: 1)
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.repeatedMessage(1, self.components)
    }
}

/// One firmware-bearing part of the host (embedded in FIRMWARE_INVENTORY).
public struct FirmwareComponent: Hashable, Sendable, FieldCoded {
    /// `bios`, `board`, `product`, or `device` for fwupd devices (field 1).
    public var kind: String
    /// Field 2.
    public var name: String
    /// Field 3.
    public var vendor: String
    /// Field 4.
    public var version: String
    /// As the firmware states it, e.g. `03/14/2024` (field 5).
    public var releaseDate: String

    public init(kind: String, name: String, vendor: String, version: String, releaseDate: String) {
        self.kind = kind
        self.name = name
        self.vendor = vendor
        self.version = version
        self.releaseDate = releaseDate
    }

    init(fields: FieldReader, depth: Int) throws {
        self.init(kind: "", name: "", vendor: "", version: "", releaseDate: "")
        var fields = fields
        while let field = try fields.next() {
            switch field.number {
            case 1: self.kind = try field.string(max: 64)
            case 2: self.name = try field.string(max: 255)
            case 3: self.vendor = try field.string(max: 255)
            case 4: self.version = try field.string(max: 255)
            case 5: self.releaseDate = try field.string(max: 64)
            default: break
            }
        }
    }

    func write(fields: inout FieldWriter) {
        fields.string(1, self.kind)
        fields.string(2, self.name)
        fields.string(3, self.vendor)
        fields.string(4, self.version)
        fields.string(5, self.releaseDate)
    }
}
