import Wire

/// One libFuzzer input, replayed the same way by Tests/WireTests/FuzzRegressionTests.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    FuzzTargets.run(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
