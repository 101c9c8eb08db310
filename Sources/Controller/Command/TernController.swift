import ArgumentParser
import Controller
import Logging
import NIOCore
import Wire

@main
struct TernController: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tern-controller",
        abstract: "The Tern central controller: fleet registry, enrolment, content and orchestration for edge sites.",
        version: TernVersion.current,
        subcommands: [Serve.self, Certs.self]
    )
}

/// Options every subcommand that touches the data directory shares.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "The controller's data directory (CA, certificates, store).")
    var data: String = "/var/lib/tern-controller"
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the controller until SIGTERM.")

    @OptionGroup var data: DataOptions

    @Option(help: "Address of the wire protocol listener, HOST:PORT.")
    var listen: String = "127.0.0.1:7447"

    @Option(help: "Seconds between agent heartbeats.")
    var heartbeatInterval: Int = 30

    @Option(name: .customLong("server-name"), help: "A name or IPv4 address agents use to reach the controller (repeatable).")
    var serverNames: [String] = ["localhost"]

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = self.logLevel
            return handler
        }
        let logger = Logger(label: "tern.controller")
        var configuration = ControllerConfiguration(dataDirectory: self.data.data)
        (configuration.listenHost, configuration.listenPort) = try HostPort.parse(self.listen)
        configuration.heartbeatInterval = .seconds(Int64(self.heartbeatInterval))
        configuration.idleTimeout = .seconds(Int64(self.heartbeatInterval) * 3)
        configuration.serverNames = self.serverNames
        let app = try await ControllerApp.build(configuration: configuration, logger: logger)
        try await app.run(logger: logger)
    }
}

struct Certs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the controller's certificate authority.",
        subcommands: [Init.self, Issue.self]
    )

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the CA and server certificate if missing; print the CA fingerprint.")

        @OptionGroup var data: DataOptions

        @Option(name: .customLong("server-name"), help: "A name or IPv4 address for the server certificate (repeatable).")
        var serverNames: [String] = ["localhost"]

        func run() async throws {
            try AtomicFile.makeDirectory(self.data.data, mode: 0o700)
            let pki = try ControllerPKI.loadOrCreate(dataDirectory: self.data.data, serverNames: self.serverNames)
            print("CA fingerprint: \(try pki.authority.fingerprint)")
        }
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a client certificate for a subcloud into an agent state directory (until enrolment replaces this)."
        )

        @OptionGroup var data: DataOptions

        @Argument(help: "The subcloud name the certificate is issued to.")
        var name: String

        @Option(help: "The agent's state directory to write agent.pem, agent-key.pem and ca.pem into.")
        var out: String

        @Option(help: "Days the certificate is valid.")
        var days: Int = 30

        func run() async throws {
            let pki = try ControllerPKI.loadOrCreate(dataDirectory: self.data.data, serverNames: ["localhost"])
            try pki.provisionAgent(name: self.name, stateDirectory: self.out, validityDays: self.days)
            print("issued a certificate for \(self.name) into \(self.out)")
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
