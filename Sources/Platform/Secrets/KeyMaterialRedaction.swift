/// Types that hold private keys or secrets print as their name only, however they
/// are printed: `"\(x)"`, `String(reflecting:)`, or as a field of an enclosing value
/// (swift-service-lifecycle logs each service that way at debug level). No key
/// material at any log level (issue 7, item 4).
public protocol KeyMaterialRedacting: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// What may be shown instead: a name and public facts, never a secret.
    var redactedDescription: String { get }
}

extension KeyMaterialRedacting {
    public var description: String { self.redactedDescription }
    public var debugDescription: String { self.redactedDescription }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
