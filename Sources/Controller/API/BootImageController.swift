import Foundation
import Hummingbird

/// `GET /boot/TOKEN.iso`: a site's boot image, for its BMC's virtual media. The
/// token is spent by the first request, so the image (and the one-time enrolment
/// token in its seed) is handed out once; any later request gets 404.
struct BootImageController: Sendable {
    let store: any InstallStore

    func register(_ router: Router<BasicRequestContext>) {
        router.get("boot/{file}", use: self.image)
    }

    @Sendable func image(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let file = try context.parameters.require("file")
        guard file.hasSuffix(".iso"), file.count == 68, file.dropLast(4).allSatisfy(\.isHexDigit),
              let install = try await self.store.takeImageToken(String(file.dropLast(4)), at: Date()),
              let path = install.image?.path else {
            throw HTTPError(.notFound, message: "no such boot image (each is served once; `subcloud install` makes a new one)")
        }
        let body = try await FileIO().loadFile(path: path, context: context)
        let size = install.image?.size ?? 0
        return Response(status: .ok, headers: [.contentType: "application/x-iso9660-image", .contentLength: "\(size)"], body: body)
    }
}
