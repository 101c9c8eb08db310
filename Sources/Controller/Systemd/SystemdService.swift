import Platform
import ServiceLifecycle
import Wire

/// Keeps systemd informed: `WATCHDOG=1` at half the watchdog period while running,
/// `STOPPING=1` when graceful shutdown starts. `READY=1` is sent by the API server
/// once it listens: the last listener to come up.
struct SystemdService: Service {
    let notifier: SystemdNotifier

    func run() async throws {
        guard self.notifier.isEnabled else {
            try? await gracefulShutdown()
            return
        }
        if let interval = self.notifier.watchdogInterval {
            while !Task.isShuttingDownGracefully {
                self.notifier.notify("WATCHDOG=1")
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
        } else {
            try? await gracefulShutdown()
        }
        self.notifier.notify("STOPPING=1")
    }
}
