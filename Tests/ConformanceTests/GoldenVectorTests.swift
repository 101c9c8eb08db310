import Foundation
import NIOCore
import Testing
import Wire

/// PROTOCOL.md's hex examples, kept as files under Vectors/: each decodes to the
/// catalog's value, field by field, and the value encodes to the same bytes.
@Suite struct GoldenVectorTests {
    static let vectorDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors")
    static let protocolDocument = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("PROTOCOL.md")

    /// The bytes of a vector file: hex pairs, `#` starts a comment.
    static func bytes(ofVector name: String) throws -> [UInt8] {
        let text = try String(contentsOf: vectorDirectory.appendingPathComponent(name + ".hex"), encoding: .utf8)
        return try hexBytes(text)
    }

    static func hexBytes(_ text: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        for line in text.split(separator: "\n") {
            let code = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            for pair in code.split(separator: " ") where !pair.isEmpty {
                guard let byte = UInt8(pair, radix: 16), pair.count == 2 else {
                    throw VectorError(description: "bad hex \"\(pair)\"")
                }
                bytes.append(byte)
            }
        }
        return bytes
    }

    struct VectorError: Error, CustomStringConvertible { var description: String }

    @Test("every frame type and every message type has a vector")
    func catalogCoversTheProtocol() {
        let frameKinds = Set(VectorCatalog.all.map(\.frame.kind))
        #expect(frameKinds == Set(Frame.Kind.allCases))
        var messageKinds = Set<UInt64>()
        for entry in VectorCatalog.all {
            if case .message(let message) = entry.frame.payload { messageKinds.insert(message.typeNumber) }
        }
        #expect(messageKinds == Set(Message.Kind.allCases.map(\.rawValue)))
    }

    @Test("vector decodes to the catalog value and re-encodes byte for byte", arguments: VectorCatalog.all.map(\.name))
    func vector(name: String) throws {
        let expected = try #require(VectorCatalog.all.first { $0.name == name }?.frame)
        let bytes = try Self.bytes(ofVector: name)

        var parser = FrameParser(maxFrameSize: WireLimits.hardMaxFrameSize)
        var input = ByteBuffer(bytes: bytes)
        parser.append(bytes: &input)
        let decoded = try #require(try parser.nextFrame())
        #expect(parser.bufferedBytes == 0, "trailing bytes after the frame")
        #expect(decoded == expected)

        #expect(Array(expected.encoded().readableBytesView) == bytes)
    }

    @Test("PROTOCOL.md shows each vector's bytes", arguments: VectorCatalog.all.map(\.name))
    func specAgrees(name: String) throws {
        let document = try String(contentsOf: Self.protocolDocument, encoding: .utf8)
        // Examples in the spec are fenced blocks that start with `# vector: NAME`.
        let marker = "# vector: \(name)\n"
        let start = try #require(document.range(of: marker), "PROTOCOL.md has no example \(name)")
        let rest = document[start.upperBound...]
        let end = try #require(rest.range(of: "```"))
        let specBytes = try Self.hexBytes(String(rest[..<end.lowerBound]))
        #expect(specBytes == (try Self.bytes(ofVector: name)))
    }

    /// Regenerates the vector files from the catalog: `TERN_WRITE_VECTORS=1 swift test --filter writeVectors`,
    /// then `python3 Tests/ConformanceTests/annotate.py` adds the field-by-field comments.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TERN_WRITE_VECTORS"] != nil))
    func writeVectors() throws {
        for (name, frame) in VectorCatalog.all {
            let hex = frame.encoded().readableBytesView.map { String(format: "%02x", $0) }.joined(separator: " ")
            try (hex + "\n").write(to: Self.vectorDirectory.appendingPathComponent(name + ".hex"), atomically: true, encoding: .utf8)
        }
    }
}
