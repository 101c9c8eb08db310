import Crypto
import Foundation
import Logging
import Platform

/// Builds a site's boot image: a bootable ISO 9660 image (isolinux, BIOS) holding
/// the kernel and three initramfs layers the kernel unpacks in turn —
/// `initrd.img` (busybox, `/init`, network drivers), `tern-agent.img` (the agent
/// and the libraries it loads) and `seed.img` (this site's seed, uncompressed).
/// The first two depend only on the host's kit and are built once per kit into
/// the cache; a site's image is then the kit plus its seed, in about a second.
public actor BootImageBuilder {
    let kernel: String?
    let agent: String
    let cacheDirectory: String
    let logger: Logger
    private var kitBuilds: [String: [CheckedContinuation<Void, any Error>]] = [:]

    public init(kernel: String?, agent: String, cacheDirectory: String, logger: Logger) {
        self.kernel = kernel
        self.agent = agent
        self.cacheDirectory = cacheDirectory
        self.logger = logger
    }

    /// What was built, for the install record and `subcloud show`.
    public struct Built: Codable, Sendable, Equatable {
        public var path: String
        public var size: UInt64
        public var seconds: Double
        /// Whether the kit's layers came from the cache.
        public var kitCached: Bool
    }

    /// Builds `directory/boot.iso` for `seed` (mode 0600: it holds the token).
    public func build(seed: InstallSeed, values: InstallValues, into directory: String) async throws -> Built {
        let started = ContinuousClock.now
        let kit = try BootKit.discover(kernel: self.kernel, agent: self.agent)
        let (layers, cached) = try await self.kitLayers(kit)
        try AtomicFile.makeDirectory(directory, mode: 0o700)
        let tree = directory + "/iso-tree"
        try? FileManager.default.removeItem(atPath: tree)
        defer { try? FileManager.default.removeItem(atPath: tree) }
        for folder in ["boot", "isolinux"] { try AtomicFile.makeDirectory(tree + "/" + folder, mode: 0o755) }
        try Self.place(kit.kernel, at: tree + "/boot/vmlinuz")
        try Self.place(layers + "/initrd.img", at: tree + "/boot/initrd.img")
        try Self.place(layers + "/tern-agent.img", at: tree + "/boot/tern-agent.img")
        try Self.place(kit.isolinux, at: tree + "/isolinux/isolinux.bin", copy: true)
        try Self.place(kit.ldlinux, at: tree + "/isolinux/ldlinux.c32")
        try Self.isolinuxConfig(site: seed.site, boot: values.boot).write(toFile: tree + "/isolinux/isolinux.cfg", atomically: true, encoding: .utf8)
        try await self.seedLayer(seed, values: values, to: tree + "/boot/seed.img", scratch: directory + "/seed-tree")

        let output = directory + "/boot.iso"
        try? FileManager.default.removeItem(atPath: output + ".partial")
        var arguments = ["-as", "mkisofs", "-quiet", "-r", "-J", "-V", "TERN_INSTALL", "-o", output + ".partial"]
        if let mbr = kit.isohybridMBR { arguments += ["-isohybrid-mbr", mbr] }
        arguments += ["-c", "isolinux/boot.cat", "-b", "isolinux/isolinux.bin", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", tree]
        try await HostCommand("xorriso", arguments).check()
        chmod(output + ".partial", 0o600)
        guard rename(output + ".partial", output) == 0 else { throw BootImageError("cannot move the boot image into place: errno \(errno)") }
        let size = (try FileManager.default.attributesOfItem(atPath: output)[.size] as? NSNumber)?.uint64Value ?? 0
        let elapsed = (ContinuousClock.now - started).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        self.logger.info("boot image built", metadata: ["subcloud": "\(seed.site)", "bytes": "\(size)", "seconds": "\(seconds)", "kit_cached": "\(cached)"])
        return Built(path: output, size: size, seconds: seconds, kitCached: cached)
    }

    // MARK: The kit's layers, once per kit

    /// The cache folder with `initrd.img` and `tern-agent.img` for `kit`, built if needed.
    private func kitLayers(_ kit: BootKit) async throws -> (String, Bool) {
        let key = try Self.key(kit)
        let folder = "\(self.cacheDirectory)/kit-\(key)"
        if FileManager.default.fileExists(atPath: folder + "/tern-agent.img") { return (folder, true) }
        if self.kitBuilds[key] != nil {
            try await withCheckedThrowingContinuation { self.kitBuilds[key]!.append($0) }
            return (folder, true)
        }
        self.kitBuilds[key] = []
        do {
            try await self.buildKit(kit, into: folder)
            for waiter in self.kitBuilds.removeValue(forKey: key) ?? [] { waiter.resume() }
            return (folder, false)
        } catch {
            for waiter in self.kitBuilds.removeValue(forKey: key) ?? [] { waiter.resume(throwing: error) }
            throw error
        }
    }

    /// Files that change the kit: by path, size and modification time.
    static func key(_ kit: BootKit) throws -> String {
        var hasher = SHA256()
        for path in [kit.kernel, kit.busybox, kit.agent, kit.isolinux, kit.ldlinux] {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let stamp = "\(path)|\(attributes[.size] ?? 0)|\((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)\n"
            hasher.update(data: Data(stamp.utf8))
        }
        hasher.update(data: Data(BootInit.initScript.utf8))
        hasher.update(data: Data(BootInit.dhcpScript.utf8))
        hasher.update(data: Data("layout 2".utf8))  // bump when the layers' layout changes
        return hasher.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    private func buildKit(_ kit: BootKit, into folder: String) async throws {
        let started = ContinuousClock.now
        try AtomicFile.makeDirectory(self.cacheDirectory, mode: 0o700)
        let scratch = "\(self.cacheDirectory)/.building-\(UUID().uuidString.prefix(8))"
        try AtomicFile.makeDirectory(scratch, mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        // Layer 1: busybox, /init, the network drivers.
        let base = scratch + "/base"
        for folder in ["bin", "etc", "lib/modules"] { try AtomicFile.makeDirectory(base + "/" + folder, mode: 0o755) }
        try Self.place(kit.busybox, at: base + "/bin/busybox", copy: true)
        try Self.write(BootInit.initScript + "\n", to: base + "/init", mode: 0o755)
        try Self.write(BootInit.dhcpScript + "\n", to: base + "/etc/udhcpc.script", mode: 0o755)
        var order: [String] = []
        let index = Self.moduleIndex(kit.modules)
        for module in BootKit.networkModules {
            guard let path = index[module] else { continue }
            try Self.place(path, at: "\(base)/lib/modules/\(module).ko", copy: true)
            order.append(module + ".ko")
        }
        try Self.write(order.joined(separator: "\n") + "\n", to: base + "/lib/modules/load-order", mode: 0o644)
        try await Self.pack(base, to: scratch + "/initrd.img", compress: true)

        // Layer 2: the agent and what the dynamic loader needs for it.
        let agent = scratch + "/agent"
        try AtomicFile.makeDirectory(agent + "/usr/bin", mode: 0o755)
        try Self.place(kit.agent, at: agent + "/usr/bin/tern-agent", copy: true)
        _ = try? await HostCommand("strip", ["--strip-debug", agent + "/usr/bin/tern-agent"]).check()
        for library in try await Self.sharedLibraries(of: kit.agent) {
            try AtomicFile.makeDirectory(agent + (library as NSString).deletingLastPathComponent, mode: 0o755)
            try Self.place(library, at: agent + library, copy: true)
        }
        try await Self.pack(agent, to: scratch + "/tern-agent.img", compress: true)

        try? FileManager.default.removeItem(atPath: base)
        try? FileManager.default.removeItem(atPath: agent)
        // Another controller sharing the cache may have won the race: theirs is as good.
        if rename(scratch, folder) != 0, !FileManager.default.fileExists(atPath: folder + "/tern-agent.img") {
            throw BootImageError("cannot move the boot kit into \(folder): errno \(errno)")
        }
        self.logger.info("boot kit built", metadata: ["folder": "\(folder)", "seconds": "\(ContinuousClock.now - started)"])
    }

    /// `ldd`'s answer: the absolute paths of the libraries (and the loader) a program loads.
    static func sharedLibraries(of program: String) async throws -> [String] {
        let outcome = try await HostCommand("ldd", [program]).run()
        // "not a dynamic executable": a fully static agent needs nothing.
        guard outcome.succeeded else { return [] }
        var paths: [String] = []
        for line in outcome.output.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            if let arrow = words.firstIndex(of: "=>"), arrow + 1 < words.count, words[arrow + 1].hasPrefix("/") {
                paths.append(words[arrow + 1])
            } else if let first = words.first?.trimmingCharacters(in: .whitespaces), first.hasPrefix("/") {
                paths.append(first)
            } else if line.contains("not found") {
                throw BootImageError("\(program) needs a library this host lacks: \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        return paths
    }

    /// Module name → path, for the kernel's modules folder.
    static func moduleIndex(_ root: String) -> [String: String] {
        var index: [String: String] = [:]
        guard let walker = FileManager.default.enumerator(atPath: root + "/kernel") else { return index }
        for case let relative as String in walker where relative.hasSuffix(".ko") {
            index[((relative as NSString).lastPathComponent as NSString).deletingPathExtension] = root + "/kernel/" + relative
        }
        return index
    }

    // MARK: The seed layer, per site

    private func seedLayer(_ seed: InstallSeed, values: InstallValues, to output: String, scratch: String) async throws {
        try? FileManager.default.removeItem(atPath: scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try AtomicFile.makeDirectory(scratch + "/etc/tern", mode: 0o700)
        try seed.encoded().write(to: URL(fileURLWithPath: scratch + "/etc/tern/seed.json"))
        chmod(scratch + "/etc/tern/seed.json", 0o600)
        try Self.write(Self.networkEnvironment(site: seed.site, network: values.boot.network), to: scratch + "/etc/tern/network.env", mode: 0o644)
        try await Self.pack(scratch, to: output, compress: false)
    }

    /// Sourced by `/init`; every value was checked by `InstallValues.problem`.
    static func networkEnvironment(site: String, network: InstallValues.Network) -> String {
        var lines = ["TERN_SITE='\(site)'", "TERN_NETWORK='\(network.mode)'", "TERN_INTERFACE='\(network.interface)'"]
        if let address = network.address { lines.append("TERN_ADDRESS='\(address)'") }
        if let gateway = network.gateway { lines.append("TERN_GATEWAY='\(gateway)'") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func isolinuxConfig(site: String, boot: InstallValues.Boot) -> String {
        let arguments = ["console=\(boot.console)", "panic=30", "tern.site=\(site)", boot.kernelArguments].compactMap { $0 }.joined(separator: " ")
        return """
            DEFAULT tern
            PROMPT 0
            TIMEOUT 0
            LABEL tern
              KERNEL /boot/vmlinuz
              INITRD /boot/initrd.img,/boot/tern-agent.img,/boot/seed.img
              APPEND \(arguments)

            """
    }

    // MARK: Files

    /// A newc cpio archive of `root` (owned by root), xz-compressed the way the
    /// kernel unpacks it (CRC32 check, 1 MiB dictionary) when `compress`.
    static func pack(_ root: String, to target: String, compress: Bool) async throws {
        // cpio runs inside `root`: a relative output path (a relative --data or --boot-cache) must not follow it there.
        let output = target.hasPrefix("/") ? target : FileManager.default.currentDirectoryPath + "/" + target
        var entries: [String] = ["."]
        if let walker = FileManager.default.enumerator(atPath: root) {
            for case let relative as String in walker { entries.append("./" + relative) }
        }
        let list = output + ".list"
        try (entries.joined(separator: "\n") + "\n").write(toFile: list, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: list) }
        var cpio = HostCommand("cpio", ["--quiet", "-o", "-H", "newc", "-R", "0:0", "-O", compress ? output + ".cpio" : output])
        cpio.workingDirectory = root
        cpio.inputFile = list
        try await cpio.check()
        guard compress else { return }
        try await HostCommand("xz", ["--check=crc32", "--lzma2=preset=6,dict=1MiB", "-T1", "-f", output + ".cpio"]).check()
        guard rename(output + ".cpio.xz", output) == 0 else { throw BootImageError("cannot move \(output): errno \(errno)") }
    }

    /// A hard link where possible (same filesystem), else a copy of the file's
    /// content — never of a symbolic link (`libstdc++.so.6 -> libstdc++.so.6.0.30`),
    /// whose target would be missing in the image.
    static func place(_ source: String, at target: String, copy: Bool = false) throws {
        try? FileManager.default.removeItem(atPath: target)
        guard let real = realpath(source, nil) else { throw BootImageError("\(source): \(String(cString: strerror(errno)))") }
        let resolved = String(cString: real)
        free(real)
        if !copy, link(resolved, target) == 0 { return }
        try FileManager.default.copyItem(atPath: resolved, toPath: target)
    }

    static func write(_ text: String, to path: String, mode: mode_t) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
    }
}
