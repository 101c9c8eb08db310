import Foundation
import Platform

/// BMC passwords, one file per subcloud under `<data>/bmc` (folder 0700, files
/// 0600). They are read when an install talks to the BMC and are never sent back
/// by the API, printed or logged.
struct BMCSecrets: Sendable {
    let folder: String

    init(dataDirectory: String) {
        self.folder = dataDirectory + "/bmc"
    }

    func save(_ password: String, for subcloud: String) throws {
        try AtomicFile.makeDirectory(self.folder, mode: 0o700)
        try AtomicFile.write(password, to: self.path(subcloud), mode: 0o600)
    }

    func password(for subcloud: String) -> String? {
        try? String(contentsOfFile: self.path(subcloud), encoding: .utf8)
    }

    func remove(for subcloud: String) {
        try? FileManager.default.removeItem(atPath: self.path(subcloud))
    }

    private func path(_ subcloud: String) -> String { "\(self.folder)/\(subcloud).password" }
}
