#!/usr/bin/python3
"""A third-party reader of the My Number card, written from mynumber-card.md only, to check
the virtual card (tests/src/vcard.rs) independently of the kiosk's reader.

It talks PC/SC through pyscard (Debian python3-pyscard), builds every APDU itself from the
specification (SS3 AIDs, SS5 APDUs), reads the text AP's EF 0002 the way jpki-rs does (a 7-byte
header first, then the whole file in chunks of at most 256 bytes), and parses the BER itself
(SS7). It never touches EF 0001 (the My Number).

Usage: mynumber_read.py READER_NAME < PIN
Prints one JSON object; the caller compares it with the card's holder.
"""

import json
import sys

from smartcard.System import readers

AID_JPKI = bytes.fromhex("D392F000260100000001")
AID_TEXT = bytes.fromhex("D39210003100010104" "08")


class Card:
    def __init__(self, reader_name):
        matches = [r for r in readers() if str(r) == reader_name]
        if not matches:
            raise SystemExit("no reader named %r in %s" % (reader_name, readers()))
        self.conn = matches[0].createConnection()
        self.conn.connect()

    def send(self, apdu):
        data, sw1, sw2 = self.conn.transmit(list(apdu))
        return bytes(data), (sw1 << 8) | sw2

    def select_df(self, aid):
        return self.send(bytes([0x00, 0xA4, 0x04, 0x0C, len(aid)]) + aid)[1]

    def select_ef(self, fid):
        return self.send(bytes([0x00, 0xA4, 0x02, 0x0C, 0x02, fid >> 8, fid & 0xFF]))[1]

    def read_binary(self, offset, le):
        """READ BINARY with a short Le (256 sent as 00)."""
        return self.send(bytes([0x00, 0xB0, (offset >> 8) & 0x7F, offset & 0xFF, le & 0xFF]))

    def read_exact(self, offset, le):
        """le bytes at offset, coping with 6Cxx (ask again with xx) and 6282 (end of file)."""
        data, sw = self.read_binary(offset, le)
        if sw >> 8 == 0x6C:
            data, sw = self.read_binary(offset, (sw & 0xFF) or 256)
        if sw not in (0x9000, 0x6282):
            raise SystemExit("READ BINARY at %d: SW %04X" % (offset, sw))
        return data

    def tries(self):
        """Empty VERIFY: 63Cx, x tries left; uses no try."""
        sw = self.send(bytes([0x00, 0x20, 0x00, 0x80]))[1]
        if sw & 0xFFF0 != 0x63C0:
            raise SystemExit("tries query: SW %04X" % sw)
        return sw & 0x0F

    def verify(self, pin):
        return self.send(bytes([0x00, 0x20, 0x00, 0x80, len(pin)]) + pin)[1]


def ber_length(buf, i):
    """(length, index after the length field) of a BER length at buf[i]."""
    first = buf[i]
    if first < 0x80:
        return first, i + 1
    n = first & 0x7F
    if n == 0 or n > 2:
        raise SystemExit("unsupported BER length form %02X" % first)
    return int.from_bytes(buf[i + 1 : i + 1 + n], "big"), i + 1 + n


def parse_tlvs(buf, start, end):
    """[(tag, header offset, value)] of the two-byte-tag TLVs in buf[start:end]."""
    out = []
    i = start
    while i < end:
        tag = int.from_bytes(buf[i : i + 2], "big")
        length, v = ber_length(buf, i + 2)
        out.append((tag, i, buf[v : v + length]))
        i = v + length
    if i != end:
        raise SystemExit("TLVs overrun their template")
    return out


def main():
    pin = sys.stdin.readline().strip().encode("ascii")
    wrong = bytes([pin[0] ^ 0x01]) + pin[1:]
    card = Card(sys.argv[1])
    out = {}

    if card.select_df(AID_JPKI) != 0x9000:
        raise SystemExit("SELECT JPKI AP failed")
    if card.select_ef(0x0006) != 0x9000:
        raise SystemExit("SELECT EF 0006 failed")
    out["token_label"] = card.read_exact(0, 32).rstrip(b" \x00").decode("ascii")
    if card.select_ef(0x0018) != 0x9000:
        raise SystemExit("SELECT JPKI auth PIN failed")
    out["jpki_auth_pin_tries"] = card.tries()

    if card.select_df(AID_TEXT) != 0x9000:
        raise SystemExit("SELECT text AP failed")
    card.select_ef(0x0002)
    out["read_without_pin_sw"] = "%04X" % card.read_binary(0, 7)[1]
    card.select_ef(0x0011)
    out["text_pin_tries"] = card.tries()
    out["wrong_pin_sw"] = "%04X" % card.verify(wrong)
    out["tries_after_wrong_pin"] = card.tries()
    out["pin_sw"] = "%04X" % card.verify(pin)
    out["tries_after_pin"] = card.tries()

    if card.select_ef(0x0002) != 0x9000:
        raise SystemExit("SELECT EF 0002 failed")
    # An oversized Le at the start of the file: what this card answers to it.
    data, sw = card.read_binary(0, 256)
    out["oversized_read"] = {"sw": "%04X" % sw, "bytes": len(data)}
    header = card.read_exact(0, 7)
    if header[:2] != b"\xff\x20":
        raise SystemExit("EF 0002 does not start with FF 20")
    length, value_at = ber_length(header, 2)
    total = value_at + length
    f = b""
    while len(f) < total:
        chunk = card.read_exact(len(f), min(256, total - len(f)))
        if not chunk:
            raise SystemExit("EF 0002 ends before its header says")
        f += chunk
    out["file_bytes"] = total
    out["chunks"] = (total + 255) // 256
    fields = {tag: (at, value) for tag, at, value in parse_tlvs(f, value_at, total)}
    if sorted(fields) != [0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25]:
        raise SystemExit("EF 0002 tags: %s" % [hex(t) for t in fields])
    offsets = fields[0xDF21][1]
    out["offsets_point_at_headers"] = [
        int.from_bytes(offsets[2 * k : 2 * k + 2], "big") == fields[tag][0]
        for k, tag in enumerate([0xDF22, 0xDF23, 0xDF24, 0xDF25])
    ]
    out["name"] = fields[0xDF22][1].decode("utf-8")
    out["address"] = fields[0xDF23][1].decode("utf-8")
    out["birth"] = fields[0xDF24][1].decode("ascii")
    out["sex"] = fields[0xDF25][1].decode("ascii")
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
