import Platform
import Testing

@Suite("Transfer counters")
struct TransferCountersTests {
    @Test("re-sent bytes are counted per connection, and all as one when connections are not numbered (the controller's uploads)")
    func counts() {
        let unnumbered = TransferCounters()
        unnumbered.record(bytes: 100, resent: 40)
        unnumbered.record(bytes: 50, resent: 10)
        #expect(unnumbered.bytes == 150 && unnumbered.resent == 50 && unnumbered.resentPerConnection == [50])

        let numbered = TransferCounters()
        numbered.connectionStarted(1)
        numbered.record(bytes: 10, resent: 0)
        numbered.connectionStarted(3)
        numbered.record(bytes: 10, resent: 7)
        #expect(numbered.resentPerConnection == [0, 0, 7] && numbered.resent == 7)
    }
}
