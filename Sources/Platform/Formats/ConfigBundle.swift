import Foundation

/// The object a CONFIG_OFFER points at (PROTOCOL.md §10.8): JSON with every file
/// of the generation, so the agent can apply it as a whole.
public struct ConfigBundle: Codable, Sendable, Equatable {
    public var generation: UInt64
    public var files: [File]
    /// An action on the agent's allow-list to run after the files are in place.
    public var reload: String?

    public struct File: Codable, Sendable, Equatable {
        /// Absolute path on the site.
        public var path: String
        /// Permission bits, e.g. 420 (0o644).
        public var mode: Int
        /// The bytes (base64 in JSON).
        public var content: Data

        public init(path: String, mode: Int, content: Data) {
            self.path = path
            self.mode = mode
            self.content = content
        }
    }

    public init(generation: UInt64, files: [File], reload: String?) {
        self.generation = generation
        self.files = files
        self.reload = reload
    }

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    public static func decode(_ bytes: [UInt8]) throws -> ConfigBundle {
        try JSONDecoder().decode(ConfigBundle.self, from: Data(bytes))
    }

    /// The problem with a path, or nil when it may be written: absolute, no `.` or
    /// `..` components, no empty components, no control characters (a NUL would make
    /// the file system write a different path than the one shown), within PATH_MAX.
    public static func problem(with path: String) -> String? {
        let shown = path.unicodeScalars.map { $0.properties.generalCategory == .control ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
        if let control = path.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
            return "\(shown): control character U+\(String(format: "%04X", control.value)) in a path is not allowed"
        }
        guard path.utf8.count < 4096 else { return "\(shown.prefix(64))...: longer than 4095 bytes" }
        guard path.hasPrefix("/") else { return "\(path): not an absolute path" }
        let components = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard !components.isEmpty, !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            return "\(path): empty, '.' or '..' components are not allowed"
        }
        guard !components.contains(where: { $0.utf8.count > 255 }) else { return "\(path): a component is longer than 255 bytes" }
        return nil
    }
}
