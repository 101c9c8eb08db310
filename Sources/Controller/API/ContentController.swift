import Foundation
import Hummingbird
import Wire

/// `/v1/config`, `/v1/software`, `/v1/images`, `/v1/firmware`, `/v1/deployments`:
/// what the controller holds and where it should go. Requests are checked and
/// translated here; `ContentPlane` decides.
struct ContentController: Sendable {
    let content: ContentPlane
    let releases: any ContentStore
    let subclouds: any SubcloudStore

    /// Which subclouds a request is for: exactly one of the three.
    struct Targets: Decodable {
        var subclouds: [String]?
        var group: String?
        var all: Bool?
    }

    struct SetConfig: Decodable {
        var targets: Targets
        var files: [File]
        var reload: String?

        struct File: Decodable {
            var path: String
            var mode: Int
            /// Base64.
            var content: Data
        }
    }

    struct ImportSoftware: Decodable {
        var repo: String
        var ref: String
    }

    struct ImportImage: Decodable {
        /// `oci:DIR:TAG`.
        var reference: String
        var name: String?
    }

    struct ImportFirmware: Decodable {
        var path: String
        var component: String
        var version: String
    }

    struct Deploy: Decodable {
        var kind: ContentKind
        var name: String
        var version: String?
        var targets: Targets
        /// Fetch and keep only.
        var prestage: Bool?
    }

    func register(_ group: RouterGroup<BasicRequestContext>) {
        group.post("config", use: self.setConfig)
        group.get("config", use: self.showConfig)
        group.post("software", use: self.importSoftware)
        group.get("software") { _, _ in try await self.releases.releases(kind: .ostree) }
        group.post("images", use: self.importImage)
        group.get("images") { _, _ in try await self.releases.releases(kind: .image) }
        group.post("firmware", use: self.importFirmware)
        group.get("firmware") { _, _ in try await self.releases.releases(kind: .firmware) }
        group.post("deployments", use: self.deploy)
        group.get("deployments", use: self.deployments)
    }

    @Sendable func setConfig(_ request: Request, context: BasicRequestContext) async throws -> [ConfigGeneration] {
        let body = try await request.decode(as: SetConfig.self, context: context)
        guard !body.files.isEmpty else { throw HTTPError(.badRequest, message: "no files given") }
        for file in body.files where !(0...0o7777).contains(file.mode) {
            throw HTTPError(.badRequest, message: "\(file.path): mode \(String(file.mode, radix: 8)) is not a permission mode")
        }
        let files = body.files.map { ConfigFileSpec(path: $0.path, mode: $0.mode, content: $0.content) }
        return try await self.content.setConfig(on: try await self.resolve(body.targets), files: files, reload: body.reload, at: Date())
    }

    @Sendable func showConfig(_ request: Request, context: BasicRequestContext) async throws -> [ConfigView] {
        var names = try await self.subclouds.subclouds().map(\.name)
        if let one = request.uri.queryParameters["subcloud"] { names = [String(one)] }
        var views: [ConfigView] = []
        for name in names {
            guard try await self.subclouds.subcloud(named: name) != nil else { throw HTTPError(.notFound, message: "no subcloud named \"\(name)\"") }
            views.append(try await self.content.configView(for: name))
        }
        return views
    }

    @Sendable func importSoftware(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<Release> {
        let body = try await request.decode(as: ImportSoftware.self, context: context)
        guard body.repo.hasPrefix("/"), FileManager.default.fileExists(atPath: body.repo + "/config") else {
            throw HTTPError(.badRequest, message: "repo must be the absolute path of an OSTree repository on the controller host")
        }
        return EditedResponse(status: .created, response: try await self.content.importSoftware(repo: body.repo, ref: body.ref, at: Date()))
    }

    @Sendable func importImage(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<Release> {
        let body = try await request.decode(as: ImportImage.self, context: context)
        return EditedResponse(status: .created, response: try await self.content.importImage(reference: body.reference, name: body.name, at: Date()))
    }

    @Sendable func importFirmware(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<Release> {
        let body = try await request.decode(as: ImportFirmware.self, context: context)
        try ObjectController.requireHostFile(body.path)
        guard !body.component.isEmpty, !body.version.isEmpty else { throw HTTPError(.badRequest, message: "component and version are required") }
        let release = try await self.content.importFirmware(path: body.path, component: body.component, version: body.version, at: Date())
        return EditedResponse(status: .created, response: release)
    }

    @Sendable func deploy(_ request: Request, context: BasicRequestContext) async throws -> EditedResponse<[Deployment]> {
        let body = try await request.decode(as: Deploy.self, context: context)
        let made = try await self.content.deploy(
            kind: body.kind, name: body.name, version: body.version, on: try await self.resolve(body.targets),
            activate: !(body.prestage ?? false), at: Date()
        )
        return EditedResponse(status: .created, response: made)
    }

    @Sendable func deployments(_ request: Request, context: BasicRequestContext) async throws -> [Deployment] {
        try await self.releases.deployments(subcloud: request.uri.queryParameters["subcloud"].map(String.init))
    }

    /// The subcloud names a target selects (errors become 400/404/422 in `StoreErrorMapping`).
    private func resolve(_ targets: Targets) async throws -> [String] {
        let selection = TargetSelection(subclouds: targets.subclouds, groups: targets.group.map { [$0] }, all: targets.all)
        return try await selection.resolve(in: self.subclouds).map(\.name)
    }
}

extension ConfigGeneration: ResponseEncodable {}
extension ConfigView: ResponseEncodable {}
extension Release: ResponseEncodable {}
extension Deployment: ResponseEncodable {}
