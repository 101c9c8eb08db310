#!/usr/bin/env python3
"""Annotate Tern wire vectors field by field, from the spec alone.

This is an independent decoder of PROTOCOL.md (it shares no code with the Swift
implementation): it reads every Vectors/*.hex file, decodes the frame and, for
MESSAGE frames, every field, and rewrites the file with one comment per field.
It fails loudly on anything the spec does not allow, so it doubles as a second
conformance check of the vectors.

    python3 Tests/ConformanceTests/annotate.py            # rewrite the .hex files
    python3 Tests/ConformanceTests/annotate.py --markdown # print PROTOCOL.md's examples
    python3 Tests/ConformanceTests/annotate.py --check    # fail if a file is not as annotated
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "Vectors")

FRAME_TYPES = {0: "DATA", 1: "MESSAGE", 2: "WINDOW_UPDATE", 3: "PING", 4: "GOAWAY", 5: "RESET"}
ERROR_CODES = {
    0x00: "NO_ERROR", 0x01: "PROTOCOL_ERROR", 0x02: "INTERNAL_ERROR", 0x03: "FRAME_SIZE_ERROR",
    0x04: "UNKNOWN_FRAME_TYPE", 0x05: "MALFORMED_MESSAGE", 0x06: "HANDSHAKE_REQUIRED",
    0x07: "VERSION_MISMATCH", 0x08: "HANDSHAKE_TIMEOUT", 0x09: "IDLE_TIMEOUT",
    0x0A: "FLOW_CONTROL_ERROR", 0x0B: "STREAM_NOT_OPEN", 0x0C: "STREAM_CLOSED",
    0x0D: "REFUSED_STREAM", 0x0E: "CANCEL", 0x0F: "COMPRESSION_ERROR", 0x10: "DIGEST_MISMATCH",
    0x11: "NOT_FOUND", 0x12: "UNAUTHORIZED", 0x13: "ENROLMENT_REFUSED", 0x14: "CONNECTION_REPLACED",
}

# Field schemas from PROTOCOL.md §10: number -> (name, kind). Kinds: uint, sint, bool,
# string, bytes, digest, or ("message", SCHEMA_NAME).
SCHEMAS = {
    "HELLO": {1: ("versions", "uint"), 2: ("agent_id", "string"), 3: ("software", "string"),
              4: ("features", "string"), 5: ("max_frame_size", "uint"), 6: ("stream_window", "uint"),
              7: ("connection_window", "uint"), 8: ("max_streams", "uint")},
    "WELCOME": {1: ("version", "uint"), 2: ("controller_id", "string"), 3: ("software", "string"),
                4: ("features", "string"), 5: ("max_frame_size", "uint"), 6: ("stream_window", "uint"),
                7: ("connection_window", "uint"), 8: ("heartbeat_interval_ms", "uint"),
                9: ("idle_timeout_ms", "uint"), 10: ("max_streams", "uint")},
    "HEARTBEAT": {1: ("sequence", "uint"), 2: ("sent_at_ms", "uint"), 3: ("health", ("message", "HEALTH_REPORT"))},
    "HEALTH_REPORT": {1: ("full", "bool"), 2: ("cpu_permille", "uint"), 3: ("memory_total_bytes", "uint"),
                      4: ("memory_available_bytes", "uint"), 5: ("load1_milli", "uint"),
                      6: ("uptime_seconds", "uint"), 7: ("disks", ("message", "DISK_USAGE"))},
    "DISK_USAGE": {1: ("mount", "string"), 2: ("total_bytes", "uint"), 3: ("used_bytes", "uint")},
    "ALARM_RAISE": {1: ("alarm_id", "string"), 2: ("entity", "string"), 3: ("severity", "uint"),
                    4: ("reason", "string"), 5: ("probable_cause", "string"), 6: ("repair_action", "string"),
                    7: ("raised_at_ms", "uint"), 8: ("service_affecting", "bool")},
    "ALARM_CLEAR": {1: ("alarm_id", "string"), 2: ("entity", "string"), 3: ("cleared_at_ms", "uint")},
    "FIRMWARE_INVENTORY": {1: ("components", ("message", "FIRMWARE_COMPONENT"))},
    "FIRMWARE_COMPONENT": {1: ("kind", "string"), 2: ("name", "string"), 3: ("vendor", "string"),
                           4: ("version", "string"), 5: ("release_date", "string")},
    "CONFIG_OFFER": {1: ("generation", "uint"), 2: ("bundle", "digest"), 3: ("size", "uint")},
    "CONFIG_RESULT": {1: ("generation", "uint"), 2: ("status", "uint"), 3: ("applied", "digest"), 4: ("detail", "string")},
    "TRANSFER_OFFER": {1: ("digest", "digest"), 2: ("size", "uint"), 3: ("block_size", "uint"),
                       4: ("kind", "string"), 5: ("name", "string")},
    "TRANSFER_REQUEST": {1: ("digest", "digest"), 2: ("first_block", "uint"), 3: ("block_count", "uint"),
                         4: ("resume_offset", "uint"), 5: ("resume_encoding", "uint"), 6: ("resume_encoded_length", "uint")},
    "TRANSFER_END": {1: ("digest", "digest"), 2: ("blocks_sent", "uint")},
    "TRANSFER_ABORT": {1: ("digest", "digest"), 2: ("code", "uint"), 3: ("reason", "string")},
    "COMMAND": {1: ("command_id", "uint"), 2: ("action", "string"), 3: ("arguments", ("message", "ARGUMENT"))},
    "ARGUMENT": {1: ("name", "string"), 2: ("value", "string")},
    "COMMAND_RESULT": {1: ("command_id", "uint"), 2: ("status", "uint"), 3: ("exit_code", "sint"), 4: ("output", "string")},
    "ENROL_REQUEST": {1: ("token", "string"), 2: ("csr", "bytes")},
    "ENROL_RESPONSE": {1: ("certificate", "bytes"), 2: ("ca_certificate", "bytes"), 3: ("subcloud", "string"),
                       4: ("not_after_ms", "uint"), 5: ("wire_port", "uint")},
    "RENEW_REQUEST": {1: ("csr", "bytes")},
    "RENEW_RESPONSE": {1: ("certificate", "bytes"), 2: ("not_after_ms", "uint"), 3: ("refusal", "string")},
    "DEPLOY": {1: ("deployment_id", "uint"), 2: ("kind", "string"), 3: ("name", "string"), 4: ("version", "string"),
               5: ("objects", ("message", "OBJECT_REF")), 6: ("activate", "bool"), 7: ("from", "string")},
    "OBJECT_REF": {1: ("digest", "digest"), 2: ("size", "uint"), 3: ("block_size", "uint"), 4: ("role", "string")},
    "DEPLOY_STATUS": {1: ("deployment_id", "uint"), 2: ("kind", "string"), 3: ("name", "string"),
                      4: ("version", "string"), 5: ("status", "uint"), 6: ("detail", "string")},
    "BACKUP_REQUEST": {1: ("backup_id", "uint"), 2: ("local_only", "bool")},
    "BACKUP_STATUS": {1: ("backup_id", "uint"), 2: ("state", "uint"), 3: ("detail", "string"),
                      4: ("manifest", ("message", "OBJECT_REF"))},
    "BACKUP_STORED": {1: ("backup_id", "uint")},
}
MESSAGE_TYPES = {
    1: "HELLO", 2: "WELCOME", 3: "HEARTBEAT", 4: "HEALTH_REPORT", 5: "ALARM_RAISE", 6: "ALARM_CLEAR",
    7: "FIRMWARE_INVENTORY", 8: "CONFIG_OFFER", 9: "CONFIG_RESULT", 10: "TRANSFER_OFFER",
    11: "TRANSFER_REQUEST", 12: "TRANSFER_END", 13: "TRANSFER_ABORT", 14: "COMMAND",
    15: "COMMAND_RESULT", 16: "ENROL_REQUEST", 17: "ENROL_RESPONSE", 18: "RENEW_REQUEST", 19: "RENEW_RESPONSE",
    20: "DEPLOY", 21: "DEPLOY_STATUS", 22: "BACKUP_REQUEST", 23: "BACKUP_STATUS", 24: "BACKUP_STORED",
}
WIRE_TYPES = {0: "varint", 1: "fixed64", 2: "length-delimited", 5: "fixed32"}


class Malformed(Exception):
    pass


def varint(data, pos):
    """Decode a minimal LEB128 varint of at most 10 bytes (PROTOCOL.md §4.1)."""
    value, shift, start = 0, 0, pos
    while True:
        if pos >= len(data):
            raise Malformed("truncated varint")
        byte = data[pos]
        pos += 1
        if pos - start == 10 and byte > 1:
            raise Malformed("varint above 64 bits")
        value |= (byte & 0x7F) << shift
        if byte & 0x80 == 0:
            if byte == 0 and pos - start > 1:
                raise Malformed("overlong varint")
            return value, pos
        shift += 7
        if pos - start >= 10:
            raise Malformed("varint longer than 10 bytes")


def hexs(data):
    return " ".join("%02x" % b for b in data)


def chunked(data, comment, indent):
    """Lines of at most 16 bytes; the comment goes on the first."""
    lines = []
    for i in range(0, max(len(data), 1), 16):
        part = data[i:i + 16]
        lines.append((indent + hexs(part), comment if i == 0 else ""))
    return lines


def fields(data, schema_name, indent):
    schema = SCHEMAS[schema_name]
    pos, lines = 0, []
    while pos < len(data):
        start = pos
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0 or wire not in WIRE_TYPES:
            raise Malformed("bad key %d" % key)
        name, kind = schema.get(number, ("unknown", None))
        label = "field %d %s (%s)" % (number, name, WIRE_TYPES[wire])
        if wire == 0:
            value, pos = varint(data, pos)
            shown = value
            if kind == "sint":
                shown = (value >> 1) ^ -(value & 1)
            elif kind == "bool":
                if value > 1:
                    raise Malformed("bool %d" % value)
                shown = "true" if value else "false"
            lines += chunked(data[start:pos], "%s = %s" % (label, shown), indent)
        elif wire == 2:
            length, body_start = varint(data, pos)
            pos = body_start + length
            if pos > len(data):
                raise Malformed("length past end")
            body = data[body_start:pos]
            if isinstance(kind, tuple):
                lines += chunked(data[start:body_start], "%s, %d bytes: %s" % (label, length, kind[1]), indent)
                lines += fields(body, kind[1], indent + "    ")
            elif kind == "string":
                text = body.decode("utf-8")  # raises on invalid UTF-8, as the spec requires
                lines += chunked(data[start:pos], '%s = "%s"' % (label, text), indent)
            elif kind == "digest":
                if length != 32:
                    raise Malformed("digest of %d bytes" % length)
                lines += chunked(data[start:pos], "%s = sha256:%s" % (label, body.hex()), indent)
            else:
                lines += chunked(data[start:pos], "%s, %d bytes" % (label, length), indent)
        elif wire == 1:
            pos += 8
            lines += chunked(data[start:pos], label, indent)
        else:
            pos += 4
            lines += chunked(data[start:pos], label, indent)
    return lines


def annotate(name, data):
    if len(data) < 9:
        raise Malformed("short frame")
    length = int.from_bytes(data[0:3], "big")
    ftype, flags = data[3], data[4]
    stream = int.from_bytes(data[5:9], "big") & 0x7FFFFFFF
    payload = data[9:]
    if length != len(payload):
        raise Malformed("length %d but %d payload bytes" % (length, len(payload)))
    kind = FRAME_TYPES[ftype]
    flag_names = []
    if flags & 1:
        flag_names.append("ACK" if kind == "PING" else "END_STREAM")
    lines = [
        (hexs(data[0:3]), "length = %d" % length),
        (hexs(data[3:4]), "type = %s (0x%x)" % (kind, ftype)),
        (hexs(data[4:5]), "flags = %s" % ("|".join(flag_names) or "none")),
        (hexs(data[5:9]), "stream id = %d" % stream),
    ]
    title = kind
    if kind == "DATA":
        lines += chunked(payload, "stream bytes (%d)" % len(payload), "")
    elif kind == "WINDOW_UPDATE":
        lines.append((hexs(payload), "increment = %d" % (int.from_bytes(payload, "big") & 0x7FFFFFFF)))
    elif kind == "PING":
        lines.append((hexs(payload), "opaque = 0x%016x" % int.from_bytes(payload, "big")))
    elif kind == "RESET":
        code = int.from_bytes(payload, "big")
        lines.append((hexs(payload), "error code = %s" % ERROR_CODES.get(code, hex(code))))
    elif kind == "GOAWAY":
        last = int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF
        code = int.from_bytes(payload[4:8], "big")
        lines.append((hexs(payload[0:4]), "last stream id = %d" % last))
        lines.append((hexs(payload[4:8]), "error code = %s" % ERROR_CODES.get(code, hex(code))))
        lines += chunked(payload[8:], 'reason = "%s"' % payload[8:].decode("utf-8"), "")
    elif kind == "MESSAGE":
        mtype, pos = varint(payload, 0)
        mname = MESSAGE_TYPES[mtype]
        title = "MESSAGE " + mname
        lines.append((hexs(payload[0:pos]), "message type = %d (%s)" % (mtype, mname)))
        lines += fields(payload[pos:], mname, "")
    width = max(len(code) for code, _ in lines) + 2
    out = ["# vector: %s" % name, "# %s on stream %d" % (title, stream)]
    for code, comment in lines:
        out.append((code.ljust(width) + ("# " + comment if comment else "")).rstrip())
    return "\n".join(out) + "\n"


def read_bytes(path):
    data = bytearray()
    for line in open(path, encoding="utf-8"):
        code = line.split("#", 1)[0]
        data += bytes(int(pair, 16) for pair in code.split())
    return bytes(data)


def main():
    names = sorted(f[:-4] for f in os.listdir(VECTORS) if f.endswith(".hex"))
    texts = {name: annotate(name, read_bytes(os.path.join(VECTORS, name + ".hex"))) for name in names}
    if "--check" in sys.argv:
        stale = [n for n in names if open(os.path.join(VECTORS, n + ".hex"), encoding="utf-8").read() != texts[n]]
        if stale:
            sys.exit("vectors whose comments do not match their bytes: " + ", ".join(stale))
        print("%d vectors decode under the spec's rules" % len(names))
        return
    if "--markdown" in sys.argv:
        for name in names:
            print("```\n" + texts[name] + "```\n")
        return
    for name in names:
        with open(os.path.join(VECTORS, name + ".hex"), "w", encoding="utf-8") as f:
            f.write(texts[name])
    print("annotated %d vectors" % len(names))


if __name__ == "__main__":
    main()
