import Foundation
import Hummingbird
import Wire

/// `/v1/config`, `/v1/software`, `/v1/images`, `/v1/firmware`, `/v1/deployments`:
/// what the controller holds and where it should go.
struct DeploymentRoutes {
    let context: ControllerContext

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
        group.post("config") { request, context -> [ConfigGeneration] in
            let body = try await request.decode(as: SetConfig.self, context: context)
            guard !body.files.isEmpty else { throw HTTPError(.badRequest, message: "no files given") }
            for file in body.files where !(0...0o7777).contains(file.mode) {
                throw HTTPError(.badRequest, message: "\(file.path): mode \(String(file.mode, radix: 8)) is not a permission mode")
            }
            let files = body.files.map { ConfigFileSpec(path: $0.path, mode: $0.mode, content: $0.content) }
            return try await self.context.content.setConfig(on: try await self.resolve(body.targets), files: files, reload: body.reload, at: Date())
        }
        group.get("config") { request, _ -> [ConfigView] in
            var names = try await self.context.store.subclouds().map(\.name)
            if let one = request.uri.queryParameters["subcloud"] { names = [String(one)] }
            var views: [ConfigView] = []
            for name in names {
                guard try await self.context.store.subcloud(named: name) != nil else { throw HTTPError(.notFound, message: "no subcloud named \"\(name)\"") }
                views.append(try await self.context.content.configView(for: name))
            }
            return views
        }

        group.post("software") { request, context -> EditedResponse<Release> in
            let body = try await request.decode(as: ImportSoftware.self, context: context)
            guard body.repo.hasPrefix("/"), FileManager.default.fileExists(atPath: body.repo + "/config") else {
                throw HTTPError(.badRequest, message: "repo must be the absolute path of an OSTree repository on the controller host")
            }
            let (commit, subject) = try await self.context.content.ostree.importCommit(from: body.repo, ref: body.ref)
            let release = Release(kind: .ostree, name: body.ref, version: commit, objects: [], detail: subject, size: 0, importedAt: Date())
            try await self.context.store.addRelease(release)
            try await self.context.store.recordEvent(subcloud: nil, kind: "software", detail: "imported \(body.ref) \(commit)", at: Date())
            let content = self.context.content
            content.work.submit("deltas to \(body.ref) \(commit)") { await content.prepareDeltas(ref: body.ref, to: commit) }
            return EditedResponse(status: .created, response: release)
        }
        group.get("software") { _, _ in try await self.context.store.releases(kind: .ostree) }

        group.post("images") { request, context -> EditedResponse<Release> in
            let body = try await request.decode(as: ImportImage.self, context: context)
            let release = try await self.context.content.images.importImage(reference: body.reference, name: body.name)
            try await self.context.store.addRelease(release)
            try await self.context.store.recordEvent(subcloud: nil, kind: "image", detail: "imported \(release.name) \(release.version)", at: Date())
            return EditedResponse(status: .created, response: release)
        }
        group.get("images") { _, _ in try await self.context.store.releases(kind: .image) }

        group.post("firmware") { request, context -> EditedResponse<Release> in
            let body = try await request.decode(as: ImportFirmware.self, context: context)
            try ContentRoutes.requireHostFile(body.path)
            guard !body.component.isEmpty, !body.version.isEmpty else { throw HTTPError(.badRequest, message: "component and version are required") }
            let (digest, size) = try await self.context.objects.importFile(body.path)
            let release = Release(
                kind: .firmware, name: body.component, version: body.version,
                objects: [ObjectRef(digest: digest, size: size, blockSize: UInt32(self.context.objects.blockSize), role: "image")],
                detail: URL(fileURLWithPath: body.path).lastPathComponent, size: size, importedAt: Date()
            )
            try await self.context.store.addRelease(release)
            try await self.context.store.recordEvent(subcloud: nil, kind: "firmware", detail: "imported \(body.component) \(body.version)", at: Date())
            return EditedResponse(status: .created, response: release)
        }
        group.get("firmware") { _, _ in try await self.context.store.releases(kind: .firmware) }

        group.post("deployments") { request, context -> EditedResponse<[Deployment]> in
            let body = try await request.decode(as: Deploy.self, context: context)
            let made = try await self.context.content.deploy(
                kind: body.kind, name: body.name, version: body.version, on: try await self.resolve(body.targets),
                activate: !(body.prestage ?? false), at: Date()
            )
            return EditedResponse(status: .created, response: made)
        }
        group.get("deployments") { request, _ in
            try await self.context.store.deployments(subcloud: request.uri.queryParameters["subcloud"].map(String.init))
        }
    }

    /// The subcloud names a target selects; an empty selection is an error.
    private func resolve(_ targets: Targets) async throws -> [String] {
        let chosen = [targets.subclouds != nil, targets.group != nil, targets.all == true].filter { $0 }.count
        guard chosen == 1 else { throw HTTPError(.badRequest, message: "give exactly one of subclouds, group or all") }
        let all = try await self.context.store.subclouds()
        let names: [String]
        if let subclouds = targets.subclouds {
            for name in subclouds where !all.contains(where: { $0.name == name }) {
                throw HTTPError(.notFound, message: "no subcloud named \"\(name)\"")
            }
            names = subclouds
        } else if let group = targets.group {
            guard try await self.context.store.group(named: group) != nil else { throw HTTPError(.notFound, message: "no subcloud group named \"\(group)\"") }
            names = all.filter { $0.group == group }.map(\.name)
        } else {
            names = all.map(\.name)
        }
        guard !names.isEmpty else { throw HTTPError(.unprocessableContent, message: "the selection contains no subclouds") }
        return names
    }
}

extension ConfigGeneration: ResponseEncodable {}
extension ConfigView: ResponseEncodable {}
extension Release: ResponseEncodable {}
extension Deployment: ResponseEncodable {}
