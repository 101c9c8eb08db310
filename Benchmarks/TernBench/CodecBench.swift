import NIOCore
import Wire

/// Encode and decode rates of the frame and message codec, without I/O.
enum CodecBench {
    static func run() {
        print("\n## Codec (one core, no I/O)")
        let heartbeat = Frame(streamID: 0, payload: .message(.heartbeat(Heartbeat(
            sequence: 123_456, sentAtMillis: 1_795_000_000_000,
            health: HealthReport(cpuPermille: 125, memoryAvailableBytes: 6_442_450_944, load1Milli: 370,
                                 disks: [DiskUsage(mount: "/var", totalBytes: 64 << 30, usedBytes: 12 << 30)])
        ))))
        self.report("control message (HEARTBEAT with health)", frame: heartbeat, count: 1_000_000)

        var payload = ByteBuffer()
        payload.writeRepeatingByte(0x5A, count: 1 << 20)
        let data = Frame(streamID: 1, payload: .data(payload))
        self.report("1 MiB DATA frame", frame: data, count: 2_000)
    }

    private static func report(_ name: String, frame: Frame, count: Int) {
        let encodedSize = frame.encoded().readableBytes
        var buffer = ByteBuffer()
        buffer.reserveCapacity(encodedSize)
        let encodeSeconds = measure {
            for _ in 0..<count {
                buffer.clear()
                frame.write(to: &buffer)
            }
        }
        precondition(buffer.readableBytes == encodedSize)

        let wire = frame.encoded()
        var decoded = 0
        let decodeSeconds = measure {
            var parser = FrameParser(maxFrameSize: WireLimits.hardMaxFrameSize)
            for _ in 0..<count {
                var input = wire
                parser.append(bytes: &input)
                if (try? parser.nextFrame()) != nil { decoded += 1 }
            }
        }
        precondition(decoded == count)
        let mb = Double(encodedSize * count) / 1e6
        print("- \(name), \(encodedSize) bytes on the wire:")
        print("  encode \(format(Double(count) / encodeSeconds / 1e3)) k frames/s (\(format(mb / encodeSeconds)) MB/s)")
        print("  decode \(format(Double(count) / decodeSeconds / 1e3)) k frames/s (\(format(mb / decodeSeconds)) MB/s)")
    }
}
