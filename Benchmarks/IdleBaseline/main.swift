// tern-idle-baseline: the floors Tern's own costs are measured against, linked with
// NIO and NIOSSL only (no Wire, no Agent, no Controller, no Foundation).
//
//     tern-idle-baseline STATE_DIR HOST PORT SUBCLOUD
//         an idle agent's floor (scripts/bench-fleet.sh): one mutual-TLS client that
//         sends a hand-encoded HELLO and a HEARTBEAT every 30 s so the controller keeps
//         it, answers PINGs, and otherwise idles.
//     tern-idle-baseline serve PKI_DIR HOST PORT
//         a controller's floor per connection (scripts/bench-scale.sh): a mutual-TLS
//         server with the controller's certificate and CA that holds every connection
//         and drops what it reads.
//     tern-idle-baseline hold STATE_DIR HOST PORT COUNT [FROM] [EVERY]
//         COUNT idle mutual-TLS clients for `serve`, each bound to its own source
//         address in FROM (default 127.0.0.0/8); prints "held N" once all are up.
//         With EVERY (seconds), each sends 300 bytes that often and `serve` answers
//         with 17: the floor with a fleet's heartbeat traffic (scripts/bench-trim.sh).
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
switch arguments.dropFirst().first {
case "serve":
    guard arguments.count == 5, let port = Int(arguments[4]) else { usage() }
    try serve(pki: arguments[2], host: arguments[3], port: port)
case "hold":
    guard (6...8).contains(arguments.count), let port = Int(arguments[4]), let count = Int(arguments[5]) else { usage() }
    let every = arguments.count == 8 ? Int64(arguments[7]) : nil
    if arguments.count == 8, every == nil { usage() }
    try hold(state: arguments[2], host: arguments[3], port: port, count: count, from: arguments.count >= 7 ? arguments[6] : "127.0.0.0/8", every: every)
default:
    guard arguments.count == 5, let port = Int(arguments[3]) else { usage() }
    try idleAgent(state: arguments[1], host: arguments[2], port: port, subcloud: arguments[4])
}

func usage() -> Never {
    print("""
    usage: tern-idle-baseline STATE_DIR HOST PORT SUBCLOUD   (SUBCLOUD: the certificate's common name)
           tern-idle-baseline serve PKI_DIR HOST PORT
           tern-idle-baseline hold STATE_DIR HOST PORT COUNT [FROM] [EVERY]
    """)
    exit(2)
}
