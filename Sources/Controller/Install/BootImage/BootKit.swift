import Foundation

/// The host files a boot image is made of: a Linux kernel and its modules,
/// busybox (static), isolinux, and the `tern-agent` binary to put in the
/// initramfs (built with `--static-swift-stdlib`; the few glibc libraries it
/// still loads are copied in beside it, as initramfs-tools does).
public struct BootKit: Sendable, Equatable {
    public var kernel: String
    /// `/lib/modules/<version>` of that kernel.
    public var modules: String
    public var busybox: String
    public var isolinux: String
    /// isolinux's loader module (`ldlinux.c32`), which must sit beside isolinux.bin.
    public var ldlinux: String
    /// The MBR that makes the ISO bootable from a USB stick too (isohybrid).
    public var isohybridMBR: String?
    public var agent: String

    /// Drivers loaded in this order at boot, when the kernel has them as modules:
    /// virtio and e1000 network cards (what qemu and many BMCs' hosts present).
    static let networkModules = [
        "virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci",
        "failover", "net_failover", "virtio_net", "e1000", "e1000e",
    ]

    /// The kit from explicit paths where given, else from where Debian's packages put
    /// them (`linux-image-amd64`, `busybox-static`, `isolinux`, `syslinux-common`).
    /// Fails naming the first file that is missing and the package that brings it.
    public static func discover(kernel: String?, agent: String) throws -> BootKit {
        let fm = FileManager.default
        let kernelPath: String
        if let kernel {
            kernelPath = kernel
        } else {
            let newest = ((try? fm.contentsOfDirectory(atPath: "/boot")) ?? []).filter { $0.hasPrefix("vmlinuz-") }.sorted().last
            guard let newest else { throw BootImageError("no kernel in /boot (install linux-image-amd64, or set boot_kernel)") }
            kernelPath = "/boot/" + newest
        }
        let version = (kernelPath as NSString).lastPathComponent.replacingOccurrences(of: "vmlinuz-", with: "")
        let kit = BootKit(
            kernel: kernelPath, modules: "/lib/modules/" + version, busybox: "/bin/busybox",
            isolinux: "/usr/lib/ISOLINUX/isolinux.bin", ldlinux: "/usr/lib/syslinux/modules/bios/ldlinux.c32",
            isohybridMBR: fm.fileExists(atPath: "/usr/lib/ISOLINUX/isohdpfx.bin") ? "/usr/lib/ISOLINUX/isohdpfx.bin" : nil,
            agent: agent
        )
        for (path, package) in [(kit.kernel, "linux-image-amd64"), (kit.busybox, "busybox-static"), (kit.isolinux, "isolinux"),
                                (kit.ldlinux, "syslinux-common"), (kit.agent, "a tern-agent build (scripts/build-boot-agent.sh)")]
        where !fm.isReadableFile(atPath: path) {
            throw BootImageError("\(path) is missing: install \(package)")
        }
        return kit
    }
}

/// Why a boot image could not be made.
public struct BootImageError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
