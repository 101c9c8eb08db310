import Foundation
import Platform
import Wire

/// What the agent tells the controller about its host: health deltas, alarm
/// changes and the firmware inventory. Kept across connections.
actor HostReporter {
    private var sampler: HealthSampler
    private var rules: AlarmRules
    private let firmware: FirmwareReader
    private var lastInventory: FirmwareInventory?
    private let alarmsPath: String

    /// - Parameter host: the name alarms are raised for (the subcloud name).
    init(configuration: AgentConfiguration, host: String) {
        self.sampler = HealthSampler(roots: configuration.roots)
        self.rules = AlarmRules(host: host)
        self.rules.diskThresholdPercent = configuration.diskAlarmPercent
        self.rules.watchedUnits = configuration.watchedUnits
        self.firmware = FirmwareReader(roots: configuration.roots, fwupdTool: configuration.useFwupd ? FirmwareReader.findFwupdTool() : nil)
        self.alarmsPath = configuration.stateDirectory + "/alarms"
        if let saved = try? AtomicFile.read(self.alarmsPath) { self.rules.restore(saved) }
    }

    /// Raise and clear messages for the alarm set now, saving it when it changed.
    private func alarmChanges(_ snapshot: HealthReport, at now: Date) async -> [Message] {
        let units = await self.rules.unitStates()
        let (raise, clear) = self.rules.changes(to: self.rules.evaluate(health: snapshot, unitStates: units, at: now), at: now)
        if !raise.isEmpty || !clear.isEmpty { try? AtomicFile.write(self.rules.saved, to: self.alarmsPath, mode: 0o600) }
        return raise.map { .alarmRaise($0) } + clear.map { .alarmClear($0) }
    }

    /// Everything a fresh connection needs: a full health report, the inventory, every active alarm.
    func connected(at now: Date) async -> [Message] {
        self.sampler.resend()
        let snapshot = self.sampler.sample()
        var messages: [Message] = []
        if let report = self.sampler.report(for: snapshot) { messages.append(.healthReport(report)) }
        let inventory = await self.firmware.inventory()
        self.lastInventory = inventory
        messages.append(.firmwareInventory(inventory))
        // Clears for what ended while disconnected (or before a restart), then every active alarm again.
        messages += await self.alarmChanges(snapshot, at: now).filter { if case .alarmClear = $0 { return true } else { return false } }
        messages += self.rules.activeAlarms.map { .alarmRaise($0) }
        return messages
    }

    /// The inventory read now (after a firmware update), remembered as reported.
    func freshInventory() async -> FirmwareInventory {
        let inventory = await self.firmware.inventory()
        self.lastInventory = inventory
        return inventory
    }

    /// One heartbeat's worth: the heartbeat (with health if it changed), then alarm changes.
    func beat(sequence: UInt64, at now: Date) async -> [Message] {
        let snapshot = self.sampler.sample()
        let millis = UInt64(now.timeIntervalSince1970 * 1000)
        var messages: [Message] = [.heartbeat(Heartbeat(sequence: sequence, sentAtMillis: millis, health: self.sampler.report(for: snapshot)))]
        messages += await self.alarmChanges(snapshot, at: now)
        // Firmware changes rarely (an update, then a reboot): check once a minute-ish.
        if sequence % 10 == 0 {
            let inventory = await self.firmware.inventory()
            if inventory != self.lastInventory {
                self.lastInventory = inventory
                messages.append(.firmwareInventory(inventory))
            }
        }
        return messages
    }
}
