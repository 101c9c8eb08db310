/// Parses `HOST:PORT` and `[IPv6]:PORT`, as given on command lines.
public enum HostPort {
    public struct Invalid: Error, CustomStringConvertible {
        public var text: String
        public var description: String { "\"\(self.text)\" is not HOST:PORT" }
    }

    public static func parse(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw Invalid(text: text)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw Invalid(text: text) }
        return (host, port)
    }
}

/// A dotted-quad IPv4 address.
public struct IPv4Address: Sendable {
    public let bytes: [UInt8]

    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard let byte = UInt8(part) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }
}

extension HostPort {
    /// Whether `host` is an IP literal rather than a name: TLS sends no SNI for it,
    /// and the certificate is checked against the address.
    public static func isIPLiteral(_ host: String) -> Bool {
        IPv4Address(host) != nil || host.contains(":")
    }
}
