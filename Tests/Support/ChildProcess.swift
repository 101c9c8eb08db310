import Foundation

/// A real process started by a test, with its output captured to a file.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    public let outputPath: String

    /// The package's build products (`.build/debug`), where `swift build` put `tern-controller` and `tern-agent`.
    public static var productsDirectory: String {
        if let override = ProcessInfo.processInfo.environment["TERN_PRODUCTS"] { return override }
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent(".build/debug").path
    }

    public init(_ executable: String, _ arguments: [String], outputPath: String, environment: [String: String] = [:]) throws {
        self.outputPath = outputPath
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        self.process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : Self.productsDirectory + "/" + executable)
        self.process.arguments = arguments
        self.process.standardOutput = output
        self.process.standardError = output
        if !environment.isEmpty {
            self.process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        try self.process.run()
    }

    public var output: String { (try? String(contentsOfFile: self.outputPath, encoding: .utf8)) ?? "" }

    public var isRunning: Bool { self.process.isRunning }

    public func signal(_ signal: Int32) { kill(self.process.processIdentifier, signal) }

    /// Waits for exit; returns the status, or nil on timeout (then the process is killed).
    public func wait(timeout: Duration = .seconds(20)) async -> Int32? {
        let exited = await eventually(timeout: timeout) { !self.process.isRunning }
        guard exited else {
            self.signal(SIGKILL)
            return nil
        }
        return self.process.terminationStatus
    }

    deinit {
        if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
    }
}

/// Runs a command to completion and returns its status and combined output.
public func run(_ executable: String, _ arguments: [String], input: String? = nil, timeout: Duration = .seconds(30)) async throws -> (status: Int32, output: String) {
    let directory = try TemporaryDirectory(prefix: "tern-run")
    defer { directory.remove() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let outputPath = directory.appending("out")
    FileManager.default.createFile(atPath: outputPath, contents: nil)
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    process.standardOutput = output
    process.standardError = output
    let stdin = Pipe()
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try? stdin.fileHandleForWriting.close()
    let exited = await eventually(timeout: timeout) { !process.isRunning }
    if !exited { process.terminate() }
    process.waitUntilExit()
    return (process.terminationStatus, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
}

/// A failed `shell` script, with what it printed.
public struct ShellFailure: Error, CustomStringConvertible {
    public var script: String
    public var status: Int32
    public var output: String
    public var description: String { "\(self.script)\nexited \(self.status): \(self.output)" }
}

/// Runs a `/bin/sh` script (fixture set-up with the real tools: ostree, umoci, skopeo)
/// and returns its trimmed output; throws `ShellFailure` unless it exits 0.
@discardableResult
public func shell(_ script: String, timeout: Duration = .seconds(120)) async throws -> String {
    let result = try await run("/bin/sh", ["-c", script], timeout: timeout)
    guard result.status == 0 else { throw ShellFailure(script: script, status: result.status, output: result.output) }
    return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
}
