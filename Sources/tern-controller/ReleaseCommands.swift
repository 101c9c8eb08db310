import ArgumentParser
import Controller
import Foundation
import Wire

/// What the release commands share: list a kind, deploy a release.
enum Releases {
    static func render(_ releases: [Release]) -> String {
        var table = Table("name", "version", "size", "detail", "imported")
        for release in releases {
            table.add(release.name, release.version, release.size > 0 ? "\(release.size)" : "-", release.detail, iso(release.importedAt))
        }
        return table.render()
    }

    static func list(_ kind: String, options: ClientOptions) async throws {
        let data = try await options.client().send(.GET, "/v1/\(kind)")
        if options.json { return try options.printJSON(data) }
        print(self.render(try apiDecoder.decode([Release].self, from: data)))
    }

    static func imported(_ data: Data, options: ClientOptions) throws {
        if options.json { return try options.printJSON(data) }
        print(self.render([try apiDecoder.decode(Release.self, from: data)]))
    }

    static func deploy(kind: ContentKind, name: String, version: String?, targets: TargetOptions, prestage: Bool, options: ClientOptions) async throws {
        var body: [String: Any] = ["kind": kind.rawValue, "name": name, "targets": targets.json, "prestage": prestage]
        if let version { body["version"] = version }
        let data = try await options.client().send(.POST, "/v1/deployments", body: try JSONSerialization.data(withJSONObject: body))
        if options.json { return try options.printJSON(data) }
        print(DeploymentCommand.render(try apiDecoder.decode([Deployment].self, from: data)))
    }
}

struct SoftwareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "software",
        abstract: "OSTree commits held by the controller and deployed to subclouds as static deltas.",
        subcommands: [Import.self, List.self, Deploy.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import a commit from an OSTree repository on the controller host (pull-local).")
        @Option(help: "The source repository (absolute path).") var repo: String
        @Option(help: "The ref to import, e.g. tern/x86_64/os.") var ref: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let repo = URL(fileURLWithPath: self.repo).standardizedFileURL.path
            let body = try JSONSerialization.data(withJSONObject: ["repo": repo, "ref": self.ref])
            try Releases.imported(try await self.options.client().send(.POST, "/v1/software", body: body), options: self.options)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List imported commits.")
        @OptionGroup var options: ClientOptions
        func run() async throws { try await Releases.list("software", options: self.options) }
    }

    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set the commit REF should point to on the chosen subclouds (the newest import, or --commit).")
        @Argument var ref: String
        @Option(help: "A specific imported commit.") var commit: String?
        @Flag(help: "Deliver the delta now; apply it with a later deploy, without a second transfer.") var prestage = false
        @OptionGroup var targets: TargetOptions
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await Releases.deploy(kind: .ostree, name: self.ref, version: self.commit, targets: self.targets, prestage: self.prestage, options: self.options)
        }
    }
}

struct ImagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "images",
        abstract: "Container images (OCI layouts) held by the controller; sites fetch only the blobs they lack.",
        subcommands: [Import.self, List.self, Deploy.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import an image from an OCI layout on the controller host: oci:DIR:TAG.")
        @Argument var reference: String
        @Option(help: "The image name (default: DIR's last component).") var name: String?
        @OptionGroup var options: ClientOptions
        func run() async throws {
            var reference = self.reference
            if reference.hasPrefix("oci:"), let colon = reference.dropFirst(4).lastIndex(of: ":") {
                let directory = URL(fileURLWithPath: String(reference.dropFirst(4)[..<colon])).standardizedFileURL.path
                reference = "oci:" + directory + reference[colon...]
            }
            var body: [String: Any] = ["reference": reference]
            if let name { body["name"] = name }
            try Releases.imported(try await self.options.client().send(.POST, "/v1/images", body: try JSONSerialization.data(withJSONObject: body)), options: self.options)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List imported images.")
        @OptionGroup var options: ClientOptions
        func run() async throws { try await Releases.list("images", options: self.options) }
    }

    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put IMAGE:TAG into the chosen subclouds' OCI layouts.")
        @Argument var image: String
        @Flag(help: "Fetch the blobs now; tag the image with a later deploy.") var prestage = false
        @OptionGroup var targets: TargetOptions
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await Releases.deploy(kind: .image, name: self.image, version: nil, targets: self.targets, prestage: self.prestage, options: self.options)
        }
    }
}

struct FirmwareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "firmware",
        abstract: "Firmware images delivered to subclouds and applied by the agent's configured update command.",
        subcommands: [Import.self, List.self, Deploy.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import a firmware image file from the controller host.")
        @Argument var file: String
        @Option(help: "The component it updates, e.g. bios.") var component: String
        @Option(help: "The version it installs.") var version: String
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let path = URL(fileURLWithPath: self.file).standardizedFileURL.path
            let body = try JSONSerialization.data(withJSONObject: ["path": path, "component": self.component, "version": self.version])
            try Releases.imported(try await self.options.client().send(.POST, "/v1/firmware", body: body), options: self.options)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List imported firmware images.")
        @OptionGroup var options: ClientOptions
        func run() async throws { try await Releases.list("firmware", options: self.options) }
    }

    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Update COMPONENT on the chosen subclouds (the newest import, or --version).")
        @Argument var component: String
        @Option(help: "A specific imported version.") var version: String?
        @Flag(help: "Deliver the image now; apply it with a later deploy.") var prestage = false
        @OptionGroup var targets: TargetOptions
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try await Releases.deploy(kind: .firmware, name: self.component, version: self.version, targets: self.targets, prestage: self.prestage, options: self.options)
        }
    }
}

struct DeploymentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deployment",
        abstract: "Deployments of software, images and firmware, and where each stands.",
        subcommands: [List.self]
    )

    static func render(_ deployments: [Deployment]) -> String {
        var table = Table("id", "subcloud", "kind", "name", "version", "mode", "state", "detail", "updated")
        for deployment in deployments {
            table.add(
                "\(deployment.id)", deployment.subcloud, deployment.kind.rawValue, deployment.name, String(deployment.version.prefix(19)),
                deployment.activate ? "deploy" : "prestage", deployment.state.rawValue, deployment.detail, iso(deployment.updatedAt)
            )
        }
        return table.render()
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List deployments.")
        @Option(help: "Only this subcloud.") var subcloud: String?
        @OptionGroup var options: ClientOptions
        func run() async throws {
            let query = self.subcloud.map { "?subcloud=\($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0)" } ?? ""
            let data = try await self.options.client().send(.GET, "/v1/deployments" + query)
            if self.options.json { return try self.options.printJSON(data) }
            print(DeploymentCommand.render(try apiDecoder.decode([Deployment].self, from: data)))
        }
    }
}
