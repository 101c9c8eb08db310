import Foundation

/// What a zero-touch install must leave on the site (`--install-values`, dcmanager's
/// install values): the content to push once the node is up, how the node boots and
/// reaches the controller, and whether it holds its content already. Keys are
/// snake_case in files and in the API.
public struct InstallValues: Codable, Sendable, Equatable {
    /// HOST or HOST:PORT the node dials to enrol (default: the controller's
    /// `install_address` and its enrolment port). Must be in the server certificate.
    public var controllerAddress: String?
    /// The OSTree ref and commit the site must run.
    public var software: Content?
    /// Images the site must hold (name, and version = manifest digest or none for the newest).
    public var images: [Content]
    /// The site's first config generation.
    public var config: Config?
    public var boot: Boot
    /// The node's repository and image store hold the content already (prestaged):
    /// nothing that is there travels again.
    public var prestaged: Bool
    /// From power-on to enrolment; after it the install fails (`install timeout`).
    public var bootTimeoutSeconds: Int
    /// From the first connection to every area in sync.
    public var deployTimeoutSeconds: Int
    /// Skip verifying an HTTPS BMC's certificate (self-signed BMCs); off by default.
    public var bmcInsecureTLS: Bool

    public struct Content: Codable, Sendable, Equatable {
        public var name: String
        public var version: String?
        public init(name: String, version: String? = nil) {
            self.name = name
            self.version = version
        }
    }

    public struct Config: Codable, Sendable, Equatable {
        public var files: [File]
        public var reload: String?

        public struct File: Codable, Sendable, Equatable {
            public var path: String
            /// Octal permission bits as text, "0644" (YAML would read 0644 as a number).
            public var mode: String?
            public var content: String
        }
    }

    public struct Boot: Codable, Sendable, Equatable {
        /// The kernel console, e.g. "ttyS0,115200" (serial-over-LAN) or "tty0".
        public var console: String
        public var network: Network
        /// Appended to the kernel command line.
        public var kernelArguments: String?
        /// The BMC's boot mode for the override: "Legacy" (isolinux) or "UEFI" (not built yet).
        public var mode: String

        public init() {
            self.console = "ttyS0,115200"
            self.network = Network()
            self.kernelArguments = nil
            self.mode = "Legacy"
        }
    }

    public struct Network: Codable, Sendable, Equatable {
        /// "dhcp" or "static".
        public var mode: String
        public var interface: String
        /// For static: "10.0.0.7/24".
        public var address: String?
        public var gateway: String?

        public init() {
            self.mode = "dhcp"
            self.interface = "eth0"
        }
    }

    public init() {
        self.images = []
        self.boot = Boot()
        self.prestaged = false
        self.bootTimeoutSeconds = 600
        self.deployTimeoutSeconds = 1800
        self.bmcInsecureTLS = false
    }

    enum CodingKeys: String, CodingKey {
        case controllerAddress = "controller_address", software, images, config, boot, prestaged
        case bootTimeoutSeconds = "boot_timeout_seconds", deployTimeoutSeconds = "deploy_timeout_seconds", bmcInsecureTLS = "bmc_insecure_tls"
    }

    /// Every key is optional in a file: what is left out takes its default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = InstallValues()
        self.controllerAddress = try container.decodeIfPresent(String.self, forKey: .controllerAddress)
        self.software = try container.decodeIfPresent(Content.self, forKey: .software)
        self.images = try container.decodeIfPresent([Content].self, forKey: .images) ?? []
        self.config = try container.decodeIfPresent(Config.self, forKey: .config)
        self.boot = try container.decodeIfPresent(Boot.self, forKey: .boot) ?? defaults.boot
        self.prestaged = try container.decodeIfPresent(Bool.self, forKey: .prestaged) ?? false
        self.bootTimeoutSeconds = try container.decodeIfPresent(Int.self, forKey: .bootTimeoutSeconds) ?? defaults.bootTimeoutSeconds
        self.deployTimeoutSeconds = try container.decodeIfPresent(Int.self, forKey: .deployTimeoutSeconds) ?? defaults.deployTimeoutSeconds
        self.bmcInsecureTLS = try container.decodeIfPresent(Bool.self, forKey: .bmcInsecureTLS) ?? false
    }

    /// The first problem an operator must fix, or nil.
    public var problem: String? {
        if let address = self.controllerAddress, address.isEmpty || address.contains(" ") { return "controller_address \"\(address)\" is not HOST or HOST:PORT" }
        if self.bootTimeoutSeconds < 10 { return "boot_timeout_seconds must be at least 10" }
        if self.deployTimeoutSeconds < 10 { return "deploy_timeout_seconds must be at least 10" }
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,._-:/= ")
        if !self.boot.console.allSatisfy(safe.contains) { return "boot.console may hold letters, digits and ,._-:/= only" }
        if let extra = self.boot.kernelArguments, !extra.allSatisfy(safe.contains) { return "boot.kernel_arguments may hold letters, digits, spaces and ,._-:/= only" }
        if !["Legacy", "UEFI"].contains(self.boot.mode) { return "boot.mode is Legacy or UEFI" }
        if self.boot.mode == "UEFI" { return "boot.mode UEFI: this controller builds BIOS (isolinux) boot images only; use Legacy" }
        switch self.boot.network.mode {
        case "dhcp": break
        case "static":
            guard let address = self.boot.network.address, address.contains("/"), self.boot.network.gateway != nil else {
                return "boot.network static needs address (A.B.C.D/PREFIX) and gateway"
            }
        default: return "boot.network.mode is dhcp or static"
        }
        let interface = self.boot.network.interface
        if interface.isEmpty || !interface.allSatisfy({ $0.isLetter || $0.isNumber }) { return "boot.network.interface \"\(interface)\" is not an interface name" }
        for file in self.config?.files ?? [] {
            if let mode = file.mode, Int(mode, radix: 8) == nil { return "config file \(file.path): mode \"\(mode)\" is not octal" }
        }
        return nil
    }

    /// The config files as the content plane takes them.
    var configFiles: [ConfigFileSpec] {
        (self.config?.files ?? []).map { ConfigFileSpec(path: $0.path, mode: $0.mode.flatMap { Int($0, radix: 8) } ?? 0o644, content: Data($0.content.utf8)) }
    }
}

extension InstallValues.Boot {
    enum CodingKeys: String, CodingKey { case console, network, kernelArguments = "kernel_arguments", mode }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        self.console = try container.decodeIfPresent(String.self, forKey: .console) ?? self.console
        self.network = try container.decodeIfPresent(InstallValues.Network.self, forKey: .network) ?? self.network
        self.kernelArguments = try container.decodeIfPresent(String.self, forKey: .kernelArguments)
        self.mode = try container.decodeIfPresent(String.self, forKey: .mode) ?? self.mode
    }
}

extension InstallValues.Network {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        self.mode = try container.decodeIfPresent(String.self, forKey: .mode) ?? self.mode
        self.interface = try container.decodeIfPresent(String.self, forKey: .interface) ?? self.interface
        self.address = try container.decodeIfPresent(String.self, forKey: .address)
        self.gateway = try container.decodeIfPresent(String.self, forKey: .gateway)
    }
}
