import Foundation

/// Bootstrap tokens and the certificates issued to subclouds: every serial is kept
/// with the subcloud it was issued to, so that deleting a subcloud revokes all of
/// them and a renewed certificate retires the ones before it.
extension SQLFleetStore {
    /// Failed enrolment attempts after which a token is locked.
    static let tokenAttemptLimit = 5

    static func registerPKIMigration(_ migrator: inout [SQLMigration]) {
        migrator.registerMigration("v3: certificates by subcloud, token attempts") { db in
            try db.execute(sql: """
                ALTER TABLE bootstrapToken ADD COLUMN failedAttempts INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE issuedCertificate (
                    serial TEXT PRIMARY KEY NOT NULL,
                    subcloud TEXT NOT NULL,
                    notBefore DOUBLE NOT NULL,
                    notAfter DOUBLE NOT NULL,
                    issuedAt DOUBLE NOT NULL,
                    firstUsedAt DOUBLE
                );
                CREATE INDEX issuedCertificateSubcloud ON issuedCertificate(subcloud);
                INSERT INTO issuedCertificate (serial, subcloud, notBefore, notAfter, issuedAt, firstUsedAt)
                    SELECT certificateSerial, name, COALESCE(enrolledAt, createdAt), COALESCE(certificateNotAfter, 0),
                           COALESCE(enrolledAt, createdAt), lastSeenAt
                    FROM subcloud WHERE certificateSerial IS NOT NULL;
                """)
        }
    }

    // MARK: Tokens

    public func enrolmentToken(hash: String, at: Date) async throws -> Subcloud {
        try await self.database.read { db in try Self.usableToken(db, hash: hash, at: at).subcloud }
    }

    public func tokenAttemptFailed(hash: String, reason: String, at: Date) async throws {
        try await self.database.write { db in
            guard let row = try SQLRow.fetchOne(db, sql: "SELECT * FROM bootstrapToken WHERE hash = ?", arguments: [hash]),
                  (row["usedAt"] as Double?) == nil else { return }
            let attempts = (row["failedAttempts"] as Int) + 1
            let subcloud: String = row["subcloud"]
            try db.execute(sql: "UPDATE bootstrapToken SET failedAttempts = ? WHERE hash = ?", arguments: [attempts, hash])
            try Self.event(db, subcloud: subcloud, kind: "enrolment-refused", detail: "attempt \(attempts): \(reason)", at: at)
            if attempts == Self.tokenAttemptLimit {
                try Self.event(db, subcloud: subcloud, kind: "token-locked",
                               detail: "bootstrap token locked after \(attempts) failed attempts; issue a new one with `subcloud token \(subcloud)`", at: at)
            }
        }
    }

    public func enrol(tokenHash: String, certificate: IssuedCertificate, at: Date) async throws -> Subcloud {
        try await self.database.write { db in
            let (subcloud, _) = try Self.usableToken(db, hash: tokenHash, at: at)
            guard subcloud.name == certificate.subcloud else { throw FleetStoreError.refused("the certificate is for another subcloud") }
            try db.execute(sql: "UPDATE bootstrapToken SET usedAt = ? WHERE hash = ?", arguments: [at.timeIntervalSince1970, tokenHash])
            try Self.record(db, certificate, enrolment: true, at: at)
            return try Self.fetchSubcloud(db, subcloud.name)!
        }
    }

    public func consumeToken(hash: String, at: Date) async throws -> Subcloud {
        try await self.database.write { db in
            let (subcloud, _) = try Self.usableToken(db, hash: hash, at: at)
            try db.execute(sql: "UPDATE bootstrapToken SET usedAt = ? WHERE hash = ?", arguments: [at.timeIntervalSince1970, hash])
            return subcloud
        }
    }

    /// The subcloud of a token that may enrol now, or the refusal.
    private static func usableToken(_ db: any SQLSession, hash: String, at: Date) throws -> (subcloud: Subcloud, attempts: Int) {
        guard let row = try SQLRow.fetchOne(db, sql: "SELECT * FROM bootstrapToken WHERE hash = ?", arguments: [hash]) else {
            throw EnrolmentRefusal.unknown
        }
        guard (row["usedAt"] as Double?) == nil else { throw EnrolmentRefusal.used }
        guard (row["expiresAt"] as Double) > at.timeIntervalSince1970 else { throw EnrolmentRefusal.expired }
        let attempts: Int = row["failedAttempts"]
        guard attempts < Self.tokenAttemptLimit else { throw EnrolmentRefusal.locked }
        guard let subcloud = try Self.fetchSubcloud(db, row["subcloud"]) else { throw EnrolmentRefusal.unknown }
        return (subcloud, attempts)
    }

    // MARK: Certificates

    public func recordCertificate(_ certificate: IssuedCertificate, enrolment: Bool, at: Date) async throws {
        try await self.database.write { db in try Self.record(db, certificate, enrolment: enrolment, at: at) }
    }

    public func issuedCertificate(serial: String) async throws -> IssuedCertificate? {
        try await self.database.read { db in
            try SQLRow.fetchOne(db, sql: "SELECT * FROM issuedCertificate WHERE serial = ?", arguments: [serial]).map(Self.issued(from:))
        }
    }

    public func isRevoked(serial: String) async throws -> Bool {
        try await self.database.read { db in
            try SQLRow.fetchOne(db, sql: "SELECT 1 FROM revokedCertificate WHERE serial = ?", arguments: [serial]) != nil
        }
    }

    public func admit(serial: String, name: String, at: Date) async throws -> String? {
        try await self.database.write { db in
            guard let subcloud = try Self.fetchSubcloud(db, name) else { return "no subcloud named \(name) is registered" }
            if try SQLRow.fetchOne(db, sql: "SELECT 1 FROM revokedCertificate WHERE serial = ?", arguments: [serial]) != nil {
                return "certificate \(serial) of \(name) is revoked"
            }
            guard let row = try SQLRow.fetchOne(db, sql: "SELECT * FROM issuedCertificate WHERE serial = ?", arguments: [serial]),
                  (row["subcloud"] as String) == name else {
                return "certificate \(serial) was not issued to \(name) by this controller"
            }
            if (row["firstUsedAt"] as Double?) == nil {
                try db.execute(sql: "UPDATE issuedCertificate SET firstUsedAt = ? WHERE serial = ?", arguments: [at.timeIntervalSince1970, serial])
            }
            // The newest certificate is in use: every one before it stops working now.
            if serial == subcloud.certificateSerial {
                let retired = try Self.revokeCertificates(db, of: name, at: at, except: serial)
                if retired > 0 {
                    try Self.event(db, subcloud: name, kind: "certificate-retired",
                                   detail: "\(retired) earlier certificate(s) revoked: \(serial) is in use", at: at)
                }
            }
            return nil
        }
    }

    /// Records a certificate just issued. A renewal revokes the certificates issued
    /// before it that were never used (an earlier renewal whose answer was lost), so a
    /// subcloud holds at most one certificate it has not used yet.
    private static func record(_ db: any SQLSession, _ certificate: IssuedCertificate, enrolment: Bool, at: Date) throws {
        let name = certificate.subcloud
        guard try Self.fetchSubcloud(db, name) != nil else { throw FleetStoreError.notFound("no subcloud named \"\(name)\"") }
        try db.execute(sql: """
            INSERT INTO issuedCertificate (serial, subcloud, notBefore, notAfter, issuedAt) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (serial) DO UPDATE SET subcloud = excluded.subcloud, notBefore = excluded.notBefore,
                notAfter = excluded.notAfter, issuedAt = excluded.issuedAt, firstUsedAt = NULL
            """,
                       arguments: [certificate.serial, name, certificate.notBefore.timeIntervalSince1970,
                                   certificate.notAfter.timeIntervalSince1970, at.timeIntervalSince1970])
        if enrolment {
            // Re-enrolment with a fresh token: no earlier certificate stays valid.
            _ = try Self.revokeCertificates(db, of: name, at: at, except: certificate.serial)
        } else {
            try db.execute(sql: """
                INSERT INTO revokedCertificate (serial, subcloud, revokedAt)
                SELECT serial, subcloud, ? FROM issuedCertificate WHERE subcloud = ? AND serial != ? AND firstUsedAt IS NULL
                ON CONFLICT DO NOTHING
                """, arguments: [at.timeIntervalSince1970, name, certificate.serial])
        }
        try db.execute(sql: """
            UPDATE subcloud SET certificateSerial = ?, certificateNotAfter = ?,
                deployStatus = CASE
                    WHEN ? = 0 THEN deployStatus
                    WHEN deployStatus IN ('install-preparing', 'installing', 'bootstrapping') THEN 'bootstrapping'
                    ELSE 'enrolled' END,
                enrolledAt = COALESCE(CASE WHEN ? = 1 THEN ? END, enrolledAt)
            WHERE name = ?
            """, arguments: [certificate.serial, certificate.notAfter.timeIntervalSince1970, enrolment, enrolment, at.timeIntervalSince1970, name])
        try Self.event(db, subcloud: name, kind: enrolment ? "enrolled" : "certificate-renewed",
                       detail: "certificate \(certificate.serial) valid until \(ISO8601DateFormatter().string(from: certificate.notAfter))", at: at)
    }

    /// Revokes every certificate issued to `name` but `except`; returns how many were newly revoked.
    static func revokeCertificates(_ db: any SQLSession, of name: String, at: Date, except: String?) throws -> Int {
        try db.execute(sql: """
            INSERT INTO revokedCertificate (serial, subcloud, revokedAt)
            SELECT serial, subcloud, ? FROM issuedCertificate WHERE subcloud = ? AND serial IS DISTINCT FROM ?
            ON CONFLICT DO NOTHING
            """, arguments: [at.timeIntervalSince1970, name, except])
        return db.changesCount
    }

    private static func issued(from row: SQLRow) -> IssuedCertificate {
        IssuedCertificate(
            serial: row["serial"], subcloud: row["subcloud"],
            notBefore: Date(timeIntervalSince1970: row["notBefore"]), notAfter: Date(timeIntervalSince1970: row["notAfter"]),
            firstUsedAt: (row["firstUsedAt"] as Double?).map(Date.init(timeIntervalSince1970:))
        )
    }
}
