import NIOCore
import Wire

/// The example frames of PROTOCOL.md, one per frame type and one per message type.
/// Each has a file `Vectors/<name>.hex` with its bytes commented field by field.
enum VectorCatalog {
    /// SHA-256 of the ASCII bytes "tern", the digest used in every example.
    static let digest = ContentDigest(hex: "77d1eefaf7e6e91b0f4d16b77fad6b483e7ba5f66f03ad5a08e64abc783fbc14")!

    static let all: [(name: String, frame: Frame)] = [
        ("frame-data", Frame(streamID: 1, payload: .data(ByteBuffer(bytes: [0x74, 0x65, 0x72, 0x6e])), flags: .endStream)),
        ("frame-window-update-connection", Frame(streamID: 0, payload: .windowUpdate(increment: 65_536))),
        ("frame-window-update-stream", Frame(streamID: 3, payload: .windowUpdate(increment: 1_048_576))),
        ("frame-ping", Frame(streamID: 0, payload: .ping(0x0102_0304_0506_0708))),
        ("frame-ping-ack", Frame(streamID: 0, payload: .ping(0x0102_0304_0506_0708), flags: .ack)),
        ("frame-goaway", Frame(streamID: 0, payload: .goAway(GoAway(lastStreamID: 7, code: .noError, reason: "controller shutting down")))),
        ("frame-reset", Frame(streamID: 5, payload: .reset(.digestMismatch))),
        ("message-hello", message(.hello(Hello(
            versions: [1], agentID: "edge-01", software: "tern-agent 0.1.0", features: ["zlib"],
            maxFrameSize: 65_536, streamWindow: 4_194_304, connectionWindow: 16_777_216, maxStreams: 32
        )))),
        ("message-welcome", message(.welcome(Welcome(
            version: 1, controllerID: "central", software: "tern-controller 0.1.0", features: ["zlib"],
            maxFrameSize: 65_536, streamWindow: 4_194_304, connectionWindow: 16_777_216,
            heartbeatIntervalMillis: 30_000, idleTimeoutMillis: 90_000, maxStreams: 32
        )))),
        ("message-heartbeat", message(.heartbeat(Heartbeat(
            sequence: 42, sentAtMillis: 1_795_000_000_000,
            health: HealthReport(cpuPermille: 125, load1Milli: 370)
        )))),
        ("message-health-report", message(.healthReport(HealthReport(
            full: true, cpuPermille: 0, memoryTotalBytes: 8_589_934_592, memoryAvailableBytes: 6_442_450_944,
            load1Milli: 250, uptimeSeconds: 86_400,
            disks: [DiskUsage(mount: "/", totalBytes: 64_424_509_440, usedBytes: 12_884_901_888)]
        )))),
        ("message-alarm-raise", message(.alarmRaise(AlarmRaise(
            alarmID: "100.104", entity: "host=edge-01.filesystem=/var", severity: .major,
            reason: "/var is 91% full", probableCause: "threshold-crossed", repairAction: "free space on /var",
            raisedAtMillis: 1_795_000_000_000, serviceAffecting: false
        )))),
        ("message-alarm-clear", message(.alarmClear(AlarmClear(alarmID: "100.104", entity: "host=edge-01.filesystem=/var", clearedAtMillis: 1_795_000_060_000)))),
        ("message-firmware-inventory", message(.firmwareInventory(FirmwareInventory(components: [
            FirmwareComponent(kind: "bios", name: "BIOS", vendor: "American Megatrends", version: "F.42", releaseDate: "03/14/2024"),
        ])))),
        ("message-config-offer", message(.configOffer(ConfigOffer(generation: 7, bundle: digest, size: 2_048)))),
        ("message-config-result", message(.configResult(ConfigResult(generation: 7, status: .applied, applied: digest, detail: "")))),
        ("message-transfer-offer", message(.transferOffer(TransferOffer(digest: digest, size: 3_145_728, blockSize: 1_048_576, kind: "ostree-delta", name: "v1-v2/0")))),
        ("message-transfer-request", Frame(streamID: 1, payload: .message(.transferRequest(TransferRequest(digest: digest, firstBlock: 2))), flags: .endStream)),
        ("message-transfer-request-resume", Frame(streamID: 3, payload: .message(.transferRequest(TransferRequest(
            digest: digest, firstBlock: 2, resume: BlockResume(offset: 300_000, encoding: .zlib, encodedLength: 412_345)
        ))), flags: .endStream)),
        ("message-transfer-end", Frame(streamID: 1, payload: .message(.transferEnd(TransferEnd(digest: digest, blocksSent: 1))), flags: .endStream)),
        ("message-transfer-abort", Frame(streamID: 1, payload: .message(.transferAbort(TransferAbort(digest: digest, code: .notFound, reason: "unknown object"))), flags: .endStream)),
        ("message-command", message(.command(Command(commandID: 9, action: "reload-config", arguments: [.init(name: "unit", value: "nginx.service")])))),
        ("message-command-result", message(.commandResult(CommandResult(commandID: 9, status: .failed, exitCode: -1, output: "unit not found")))),
        ("message-enrol-request", message(.enrolRequest(EnrolRequest(token: "tok-1", csr: [0x30, 0x82, 0x01, 0x0a])))),
        ("message-enrol-response", message(.enrolResponse(EnrolResponse(certificate: [0x30, 0x82], caCertificate: [0x30, 0x81], subcloud: "edge-01", notAfterMillis: 1_797_592_000_000, wirePort: 7447)))),
        ("message-renew-request", message(.renewRequest(RenewRequest(csr: [0x30, 0x82, 0x01, 0x0a])))),
        ("message-renew-response", message(.renewResponse(RenewResponse(certificate: [0x30, 0x82], notAfterMillis: 1_797_592_000_000)))),
        ("message-renew-response-refused", message(.renewResponse(RenewResponse(certificate: [], notAfterMillis: 0, refusal: "renewal opens in the last third")))),
        ("message-deploy", message(.deploy(Deploy(
            deploymentID: 12, kind: "ostree", name: "tern/x86_64/os", version: "c2",
            objects: [ObjectRef(digest: digest, size: 4_096, blockSize: 1_048_576, role: "superblock")],
            activate: true, from: "c1"
        )))),
        ("message-deploy-status", message(.deployStatus(DeployStatus(deploymentID: 12, kind: "ostree", name: "tern/x86_64/os", version: "c2", status: .activated)))),
        ("message-backup-request", message(.backupRequest(BackupRequest(backupID: 31, localOnly: false)))),
        ("message-backup-status", message(.backupStatus(BackupStatus(
            backupID: 31, state: .ready, manifest: ObjectRef(digest: digest, size: 2_310, blockSize: 1_048_576, role: "manifest")
        )))),
        ("message-backup-stored", message(.backupStored(BackupStored(backupID: 31)))),
        ("message-transfer-request-upload", Frame(streamID: 2, payload: .message(.transferRequest(TransferRequest(digest: digest, firstBlock: 0))), flags: .endStream)),
    ]

    private static func message(_ message: Message) -> Frame {
        Frame(streamID: 0, payload: .message(message))
    }
}
