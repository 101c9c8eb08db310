#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// This process's limit on open file descriptors (`RLIMIT_NOFILE`).
public enum DescriptorLimit {
    /// Raises the soft limit to the hard one; returns the soft limit now (0 if unknown).
    /// A container may cap the hard limit below what was asked of it (20,000 here).
    @discardableResult
    public static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return Int(clamping: limit.rlim_cur)  // RLIM_INFINITY (all ones) clamps to Int.max
    }

    /// Connections a listener may hold within `limit` descriptors, keeping a reserve
    /// for everything else the process opens (files, database connections, other
    /// listeners, `/proc` reads): a tenth, at least 1,024 — or half, under a limit of
    /// 2,048 (the usual 1,024 soft limit would otherwise leave room for one agent).
    public static func connections(within limit: Int) -> Int {
        guard limit > 0, limit < Int.max / 2 else { return Int.max }
        return max(1, limit - max(limit / 10, min(1024, limit / 2)))
    }
}
