// The idle-agent floor: one mutual-TLS client speaking just enough of PROTOCOL.md.
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

func readFile(_ path: String) -> [UInt8] {
    guard let file = fopen(path, "rb") else { fatalError("cannot open \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes += buffer[0..<count]
    }
    return bytes
}

/// PROTOCOL.md §4: varints and fields, as little of them as HELLO and HEARTBEAT need.
struct Fields {
    var bytes: [UInt8] = []
    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            self.bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        self.bytes.append(UInt8(value))
    }
    mutating func uint(_ number: UInt64, _ value: UInt64) {
        self.varint(number << 3)
        self.varint(value)
    }
    mutating func string(_ number: UInt64, _ value: String) {
        self.varint(number << 3 | 2)
        self.varint(UInt64(value.utf8.count))
        self.bytes += Array(value.utf8)
    }
}

/// A MESSAGE frame on stream 0 (PROTOCOL.md §3.1).
func messageFrame(type: UInt64, _ fields: Fields) -> ByteBuffer {
    var payload = Fields()
    payload.varint(type)
    payload.bytes += fields.bytes
    var frame = ByteBuffer()
    frame.writeInteger(UInt8(payload.bytes.count >> 16))
    frame.writeInteger(UInt16(payload.bytes.count & 0xFFFF))
    frame.writeInteger(UInt8(0x1))
    frame.writeInteger(UInt8(0))
    frame.writeInteger(UInt32(0))
    frame.writeBytes(payload.bytes)
    return frame
}

/// Answers PING with ACK; reads and drops everything else.
final class PingAnswerer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    var pending = ByteBuffer()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        self.pending.writeBuffer(&bytes)
        while self.pending.readableBytes >= 9 {
            let start = self.pending.readerIndex
            let length = Int(self.pending.getInteger(at: start, as: UInt8.self)!) << 16 | Int(self.pending.getInteger(at: start + 1, as: UInt16.self)!)
            guard self.pending.readableBytes >= 9 + length else { break }
            let type = self.pending.getInteger(at: start + 3, as: UInt8.self)!
            let flags = self.pending.getInteger(at: start + 4, as: UInt8.self)!
            if type == 0x3, flags & 1 == 0, length == 8 {
                var ack = ByteBuffer()
                ack.writeBytes([0, 0, 8, 0x3, 0x1, 0, 0, 0, 0])
                ack.writeBytes(self.pending.getBytes(at: start + 9, length: 8)!)
                context.writeAndFlush(self.wrapOutboundOut(ack), promise: nil)
            }
            self.pending.moveReaderIndex(forwardBy: 9 + length)
        }
        self.pending.discardReadBytes()
    }
}

/// A mutual-TLS client context from an agent's state directory (`identity.pem`, `ca.pem`).
func clientContext(state: String) throws -> NIOSSLContext {
    let identity = readFile(state + "/identity.pem")
    let chain = try NIOSSLCertificate.fromPEMBytes(identity)
    let key = try NIOSSLPrivateKey(bytes: identity, format: .pem)
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.minimumTLSVersion = .tlsv13
    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(readFile(state + "/ca.pem")))
    tls.certificateChain = chain.map { .certificate($0) }
    tls.privateKey = .privateKey(key)
    tls.applicationProtocols = ["tern/1"]
    return try NIOSSLContext(configuration: tls)
}

func idleAgent(state: String, host: String, port: Int, subcloud: String) throws -> Never {
    let context = try clientContext(state: state)
    let channel = try ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                try channel.pipeline.syncOperations.addHandler(PingAnswerer())
            }
        }
        .connect(host: host, port: port).wait()
    var hello = Fields()
    hello.uint(1, 1)
    hello.string(2, subcloud)
    hello.string(3, "tern-idle-baseline")
    try channel.writeAndFlush(messageFrame(type: 1, hello)).wait()
    print("READY")
    var sequence: UInt64 = 0
    while channel.isActive {
        sleep(30)
        sequence += 1
        var beat = Fields()
        beat.uint(1, sequence)
        try? channel.writeAndFlush(messageFrame(type: 3, beat)).wait()
    }
    // Stay alive even if the controller lets go, so the process can still be measured.
    sleep(3600)
    exit(0)
}
