@testable import Agent
import Testing

@Suite struct ControllerRotationTests {
    let a = ControllerAddress(host: "10.0.0.1", port: 7447)
    let b = ControllerAddress(host: "10.0.0.2", port: 7447)
    let c = ControllerAddress(host: "central.example.net", port: 7447)

    /// Fails `count` times; what each failure answered and the address after it.
    static func fail(_ rotation: inout ControllerRotation, _ count: Int) -> [(backOff: Bool, next: ControllerAddress)] {
        (0..<count).map { _ in
            let backOff = rotation.failed()
            return (backOff, rotation.current)
        }
    }

    @Test("a failure moves to the next address at once; only after every address failed does the agent back off")
    func rounds() {
        var rotation = ControllerRotation([self.a, self.b, self.c])
        #expect(rotation.current == self.a)
        let steps = Self.fail(&rotation, 6)
        #expect(steps.map(\.backOff) == [false, false, true, false, false, true])
        #expect(steps.map(\.next) == [self.b, self.c, self.a, self.b, self.c, self.a])
    }

    @Test("after a connection that stayed up, its loss tries the others before backing off")
    func successStartsARound() {
        var rotation = ControllerRotation([self.a, self.b])
        let before = Self.fail(&rotation, 1)  // a failed: try b
        #expect(before.map(\.backOff) == [false] && rotation.current == self.b)
        rotation.succeeded()  // b stayed up, then was lost
        let after = Self.fail(&rotation, 2)
        #expect(after.map(\.backOff) == [false, true], "try a at once, then back off when a fails too")
        #expect(after.map(\.next) == [self.a, self.b])
    }

    @Test("one address: every failure backs off")
    func single() {
        var rotation = ControllerRotation([self.a])
        let steps = Self.fail(&rotation, 3)
        #expect(steps.map(\.backOff) == [true, true, true])
        #expect(rotation.current == self.a)
    }

    @Test("addresses parse as HOST:PORT and [IPv6]:PORT, and print back the same way")
    func parsing() throws {
        #expect(try ControllerAddress(parsing: "10.0.0.1:7447") == self.a)
        let v6 = try ControllerAddress(parsing: "[fd00::1]:7447")
        #expect(v6.host == "fd00::1" && v6.port == 7447)
        #expect(v6.description == "[fd00::1]:7447")
        #expect(throws: (any Error).self) { try ControllerAddress(parsing: "no-port") }
    }
}
