import Foundation
import Platform
import Wire

/// Firmware inventory from the DMI tables the kernel exposes under
/// `<sys>/class/dmi/id`, plus devices fwupd knows of where `fwupdtool` is installed.
public struct FirmwareReader: Sendable {
    let roots: HostRoots
    /// `fwupdtool`, if present on PATH; nil to skip.
    let fwupdTool: String?

    public init(roots: HostRoots, fwupdTool: String? = FirmwareReader.findFwupdTool()) {
        self.roots = roots
        self.fwupdTool = fwupdTool
    }

    public static func findFwupdTool() -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/fwupdtool"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    public func inventory() async -> FirmwareInventory {
        func dmi(_ file: String) -> String {
            (self.roots.read(self.roots.sys, "class/dmi/id/" + file) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var components: [FirmwareComponent] = []
        let bios = FirmwareComponent(kind: "bios", name: "BIOS", vendor: dmi("bios_vendor"), version: dmi("bios_version"), releaseDate: dmi("bios_date"))
        if !bios.vendor.isEmpty || !bios.version.isEmpty { components.append(bios) }
        let board = FirmwareComponent(kind: "board", name: dmi("board_name"), vendor: dmi("board_vendor"), version: dmi("board_version"), releaseDate: "")
        if !board.name.isEmpty || !board.vendor.isEmpty { components.append(board) }
        let product = FirmwareComponent(kind: "product", name: dmi("product_name"), vendor: dmi("sys_vendor"), version: dmi("product_version"), releaseDate: "")
        if !product.name.isEmpty || !product.vendor.isEmpty { components.append(product) }
        components += await self.fwupdDevices()
        return FirmwareInventory(components: components)
    }

    /// `fwupdtool get-devices --json` works without the daemon; a failure just means no devices.
    private func fwupdDevices() async -> [FirmwareComponent] {
        guard let tool = self.fwupdTool, let outcome = try? await HostCommand(tool, ["get-devices", "--json"]).run(), outcome.succeeded,
              let json = try? JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [String: Any],
              let devices = json["Devices"] as? [[String: Any]] else { return [] }
        return devices.prefix(64).map { device in
            FirmwareComponent(
                kind: "device", name: device["Name"] as? String ?? "", vendor: device["Vendor"] as? String ?? "",
                version: device["Version"] as? String ?? "", releaseDate: ""
            )
        }
    }
}
