import Foundation

/// Runs one program (never through a shell) and collects its exit status and output,
/// without blocking a thread while it runs. For the `ostree`, `skopeo` and update
/// commands the controller and agent drive.
public struct HostCommand: Sendable {
    public var executable: String
    public var arguments: [String]
    /// Extra environment; the rest is inherited.
    public var environment: [String: String] = [:]

    /// Runs the program in this directory (default: the caller's).
    public var workingDirectory: String?
    /// Feeds this file to the program's standard input (default: /dev/null).
    public var inputFile: String?

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
    }

    public struct Outcome: Sendable {
        public var status: Int32
        /// Standard output.
        public var output: String
        /// Standard error.
        public var errors: String
        public var succeeded: Bool { self.status == 0 }
    }

    /// A command that did not exit 0, with what it said.
    public struct Failure: Error, CustomStringConvertible {
        public var command: String
        public var status: Int32
        public var errors: String

        public init(command: String, status: Int32, errors: String) {
            self.command = command
            self.status = status
            self.errors = errors
        }

        public var description: String {
            "\(self.command) exited with status \(self.status)\(self.errors.isEmpty ? "" : ": " + self.errors.trimmingCharacters(in: .whitespacesAndNewlines).suffix(2048))"
        }
    }

    /// Runs the program to its end. A name without `/` is looked up on PATH.
    public func run() async throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.resolve(self.executable))
        process.arguments = self.arguments
        if !self.environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(self.environment) { $1 }
        }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        if let inputFile = self.inputFile {
            guard let input = FileHandle(forReadingAtPath: inputFile) else {
                throw Failure(command: self.executable, status: 66, errors: "cannot read \(inputFile)")
            }
            process.standardInput = input
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        if let directory = self.workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        // Read both pipes to their end while the process runs (on GCD threads, not the
        // cooperative pool), so a chatty program cannot fill one and stall.
        let collected = OutputCollector()
        let readers = DispatchGroup()
        for (pipe, isError) in [(output, false), (errors, true)] {
            readers.enter()
            DispatchQueue.global().async {
                collected.append(pipe.fileHandleForReading.readDataToEndOfFile(), error: isError)
                readers.leave()
            }
        }
        let status: Int32
        do {
            status = try await withCheckedThrowingContinuation { continuation in
                process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
                do { try process.run() } catch {
                    process.terminationHandler = nil
                    continuation.resume(throwing: error)
                }
            }
        } catch {
            // Never started: close our write ends so the readers see end of file.
            try? output.fileHandleForWriting.close()
            try? errors.fileHandleForWriting.close()
            throw error
        }
        await withCheckedContinuation { continuation in readers.notify(queue: .global()) { continuation.resume() } }
        let (out, err) = collected.result
        return Outcome(status: status, output: out, errors: err)
    }

    /// Runs the program and returns its standard output; throws `Failure` unless it exits 0.
    @discardableResult
    public func check() async throws -> String {
        let outcome = try await self.run()
        guard outcome.succeeded else {
            throw Failure(command: ([self.executable] + self.arguments.prefix(3)).joined(separator: " "), status: outcome.status, errors: outcome.errors.isEmpty ? outcome.output : outcome.errors)
        }
        return outcome.output
    }

    /// Whether `name` can be run (on PATH, or an executable path).
    public static func exists(_ name: String) -> Bool { (try? self.resolve(name)) != nil }

    static func resolve(_ name: String) throws -> String {
        if name.contains("/") { return name }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        throw Failure(command: name, status: 127, errors: "\(name) is not installed (not found on PATH)")
    }
}

private final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var output = Data()
    private var errors = Data()

    func append(_ data: Data, error: Bool) {
        guard !data.isEmpty else { return }
        self.lock.lock()
        defer { self.lock.unlock() }
        if error { self.errors.append(data) } else { self.output.append(data) }
    }

    var result: (String, String) {
        self.lock.lock()
        defer { self.lock.unlock() }
        return (String(decoding: self.output, as: UTF8.self), String(decoding: self.errors, as: UTF8.self))
    }
}
