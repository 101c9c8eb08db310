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
