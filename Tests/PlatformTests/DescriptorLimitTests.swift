import Platform
import Testing

@Suite struct DescriptorLimitTests {
    @Test("connections keep a reserve of descriptors: a tenth, at least 1,024, half under 2,048; no limit, no cap")
    func reserve() {
        #expect(DescriptorLimit.connections(within: 20_000) == 18_000)
        #expect(DescriptorLimit.connections(within: 4_096) == 3_072)
        #expect(DescriptorLimit.connections(within: 1_024) == 512)
        #expect(DescriptorLimit.connections(within: Int.max) == Int.max)
        #expect(DescriptorLimit.connections(within: 0) == Int.max)
    }
}
