import Foundation
import Logging
import ServiceLifecycle

/// With replicas: acts on the subclouds another replica changed (a config generation,
/// a deployment, a deletion) when their agents are connected here — the desired
/// content is sent again (as on a connection; the agent ignores what it has), and a
/// deleted subcloud's connection is ended.
public struct ReplicaNudges: Service {
    let live: LiveFleet
    let content: ContentPlane
    let store: any SubcloudStore
    let names: AsyncStream<[String]>
    let logger: Logger

    /// The stream the store's notifications feed, and the service that drains it.
    static func make(live: LiveFleet, content: ContentPlane, store: any SubcloudStore, logger: Logger) -> (ReplicaNudges, AsyncStream<[String]>.Continuation) {
        let (names, continuation) = AsyncStream<[String]>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        return (ReplicaNudges(live: live, content: content, store: store, names: names, logger: logger), continuation)
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            for await batch in self.names {
                let here = Set(await self.live.connectedNames)
                for name in batch where here.contains(name) {
                    do {
                        if try await self.store.subcloud(named: name) == nil {
                            await self.live.forget(name)
                            _ = try? await self.live.send(.goAway(.unauthorized, reason: "subcloud \(name) was deleted; its certificate is revoked"), to: name)
                        } else {
                            await self.content.connected(name)
                        }
                    } catch {
                        self.logger.warning("could not act on another replica's change", metadata: ["subcloud": "\(name)", "error": "\(error)"])
                    }
                }
            }
        }
    }
}
