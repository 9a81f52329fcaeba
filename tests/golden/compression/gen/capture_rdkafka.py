#!/usr/bin/python3
"""Capture compressed payloads exactly as librdkafka produces them.

A minimal fake broker on 127.0.0.1 answers ApiVersions, Metadata and Produce;
confluent-kafka (librdkafka underneath) produces a known set of messages with
each codec; the fake broker keeps the compressed region of the batch (v2) or
the value of the wrapper message (v0/v1).  The expected plaintext is built
here independently from the same messages, so the C test checks both the
decompression and our understanding of what is inside.

Run with Debian's interpreter (confluent_kafka is only importable there):
    /usr/bin/python3 tests/golden/compression/gen/capture_rdkafka.py OUTDIR
Writes OUTDIR/MANIFEST.rdkafka (also covers kafka-python's gzip codec).
"""
import os
import socket
import socketserver
import struct
import sys
import threading
import time
import zlib

import confluent_kafka
import kafka
import kafka.codec

TOPIC = "golden"
BASE_TS = 1700000000000


# ---- Kafka primitives -------------------------------------------------------

def zigzag(v):
    return (v << 1) ^ (v >> 63)


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(v):
    return uvarint(zigzag(v))


def kstring(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def kbytes(b):
    if b is None:
        return struct.pack(">i", -1)
    return struct.pack(">i", len(b)) + b


class Reader:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, n):
        if self.p + n > len(self.d):
            raise ValueError("short read")
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        shift = v = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def compact_string(self):
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode()

    def bytes(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def tagged(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


_CRC32C = []


def crc32c(data):
    if not _CRC32C:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _CRC32C.append(c)
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ---- the messages -------------------------------------------------------------

def prng_bytes(n, seed):
    """Deterministic incompressible bytes (xorshift64)."""
    s = seed | 1
    out = bytearray()
    for _ in range(n):
        s ^= (s << 13) & 0xFFFFFFFFFFFFFFFF
        s ^= s >> 7
        s ^= (s << 17) & 0xFFFFFFFFFFFFFFFF
        out.append(s & 0xFF)
    return bytes(out)


def message_sets():
    """name -> list of (key, value, headers) ; timestamps are BASE_TS + i."""
    small = [
        (b"k0", b"hello, compressed world", [("h1", b"v1")]),
        (None, b"a value without a key", []),
        (b"k2", None, []),
        (b"k3", b"x" * 200, [("trace", b"abc"), ("empty", b"")]),
        (b"", b"last", []),
    ]
    large = []
    rnd = prng_bytes(64 * 1024, 42)
    for i in range(150):
        if i % 10 == 3:
            value = rnd[(i * 997) % 60000:(i * 997) % 60000 + 1200]
        else:
            value = (("record %05d " % i) + "the quick brown fox jumps over the lazy dog; " * 20).encode()
        large.append((("key-%d" % (i % 17)).encode(), value, [("seq", str(i).encode())] if i % 2 else []))
    return {"small": small, "large": large}


def records_v2(msgs):
    out = bytearray()
    for i, (k, v, hdrs) in enumerate(msgs):
        body = bytearray()
        body += b"\x00"                      # attributes
        body += varint(i)                    # timestamp delta (BASE_TS + i)
        body += varint(i)                    # offset delta
        body += varint(-1) if k is None else varint(len(k)) + k
        body += varint(-1) if v is None else varint(len(v)) + v
        body += varint(len(hdrs))
        for hk, hv in hdrs:
            hk = hk.encode()
            body += varint(len(hk)) + hk
            body += varint(-1) if hv is None else varint(len(hv)) + hv
        out += varint(len(body)) + body
    return bytes(out)


def message_set_v01(msgs, magic):
    """Inner message set of a v0/v1 wrapper, offsets relative 0..n-1."""
    out = bytearray()
    for i, (k, v, _hdrs) in enumerate(msgs):
        body = struct.pack(">bb", magic, 0)
        if magic == 1:
            body += struct.pack(">q", BASE_TS + i)
        body += kbytes(k) + kbytes(v)
        msg = struct.pack(">I", zlib.crc32(body)) + body
        out += struct.pack(">qi", i, len(msg)) + msg
    return bytes(out)


def write_plain(path, plain):
    """Several captures share one plaintext file; they must agree on it."""
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() != plain:
                raise RuntimeError("%s: plaintexts differ" % path)
        return
    with open(path, "wb") as f:
        f.write(plain)


# ---- the fake broker ---------------------------------------------------------------

class State:
    apis = {}          # api_key -> (min, max) advertised
    port = 0
    captures = []
    lock = threading.Lock()
    cond = threading.Condition(lock)


def api_versions_body(version):
    keys = sorted(State.apis.items())
    if version >= 3:
        b = struct.pack(">h", 0) + uvarint(len(keys) + 1)
        for k, (lo, hi) in keys:
            b += struct.pack(">hhh", k, lo, hi) + uvarint(0)
        return b + struct.pack(">i", 0) + uvarint(0)
    b = struct.pack(">hi", 0, len(keys))
    for k, (lo, hi) in keys:
        b += struct.pack(">hhh", k, lo, hi)
    if version >= 1:
        b += struct.pack(">i", 0)
    return b


def metadata_body(version):
    b = struct.pack(">i", 1)                                  # brokers
    b += struct.pack(">i", 1) + kstring("127.0.0.1") + struct.pack(">i", State.port)
    if version >= 1:
        b += kstring(None)                                    # rack
        b += struct.pack(">i", 1)                             # controller
    b += struct.pack(">i", 1)                                 # topics
    b += struct.pack(">h", 0) + kstring(TOPIC)
    if version >= 1:
        b += b"\x00"                                          # is_internal
    b += struct.pack(">i", 1)                                 # partitions
    b += struct.pack(">hii", 0, 0, 1) + struct.pack(">ii", 1, 1) + struct.pack(">ii", 1, 1)
    return b


def handle_produce(version, r):
    if version >= 3:
        r.string()                                            # transactional id
    r.i16()
    r.i32()
    resp_topics = []
    for _ in range(r.i32()):
        name = r.string()
        parts = []
        for _ in range(r.i32()):
            idx = r.i32()
            records = r.bytes()
            with State.cond:
                State.captures.append((version, records))
                State.cond.notify_all()
            parts.append(idx)
        resp_topics.append((name, parts))
    b = struct.pack(">i", len(resp_topics))
    for name, parts in resp_topics:
        b += kstring(name) + struct.pack(">i", len(parts))
        for idx in parts:
            b += struct.pack(">ihq", idx, 0, 0)
            if version >= 2:
                b += struct.pack(">q", -1)
            if version >= 5:
                b += struct.pack(">q", 0)
    if version >= 1:
        b += struct.pack(">i", 0)
    return b


class Handler(socketserver.BaseRequestHandler):
    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def handle(self):
        try:
            while True:
                size = struct.unpack(">i", self.recv_exact(4))[0]
                r = Reader(self.recv_exact(size))
                key, version, corr = r.i16(), r.i16(), r.i32()
                r.string()                                    # client id
                flexible = (key == 18 and version >= 3)
                if flexible:
                    r.tagged()
                if key == 18:
                    body = api_versions_body(version)
                elif key == 3:
                    body = metadata_body(version)
                elif key == 0:
                    body = handle_produce(version, r)
                else:
                    print("unexpected request", key, version, file=sys.stderr)
                    return
                # ApiVersions always answers with response header v0.
                frame = struct.pack(">i", corr) + body
                self.request.sendall(struct.pack(">i", len(frame)) + frame)
        except EOFError:
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


# ---- producing and checking ------------------------------------------------------------

def capture(codec, msgs):
    with State.cond:
        State.captures.clear()
    p = confluent_kafka.Producer({
        "bootstrap.servers": "127.0.0.1:%d" % State.port,
        "compression.codec": codec,
        "linger.ms": 1000,
        "batch.num.messages": 100000,
        "message.max.bytes": 10000000,
        "api.version.request": True,
        "enable.idempotence": False,
    })
    # Learn the leader first, so that every message waits in one queue and
    # flush() sends them as a single batch.
    p.list_topics(TOPIC, timeout=10)
    for i, (k, v, hdrs) in enumerate(msgs):
        kw = {"timestamp": BASE_TS + i}
        if hdrs and State.apis[0][1] >= 3:
            kw["headers"] = hdrs
        p.produce(TOPIC, value=v, key=k, partition=0, **kw)
    left = p.flush(20)
    if left:
        raise RuntimeError("%d messages not delivered" % left)
    with State.cond:
        if len(State.captures) != 1:
            raise RuntimeError("expected one Produce, got %d" % len(State.captures))
        return State.captures[0]


def split_v2(records, codec_id, n):
    r = Reader(records)
    r.i64()
    length = r.i32()
    if length + 12 != len(records):
        raise RuntimeError("expected exactly one batch")
    r.i32()
    if r.i8() != 2:
        raise RuntimeError("not a v2 batch")
    crc = r.u32()
    if crc32c(records[21:]) != crc:
        raise RuntimeError("batch CRC mismatch")
    attrs = r.i16()
    if attrs & 7 != codec_id:
        raise RuntimeError("codec %d, expected %d" % (attrs & 7, codec_id))
    r.i32()
    if r.i64() != BASE_TS:
        raise RuntimeError("unexpected base timestamp")
    r.i64(), r.i64(), r.i16(), r.i32()
    if r.i32() != n:
        raise RuntimeError("record count")
    return records[61:]


def split_v01(records, codec_id, magic):
    r = Reader(records)
    r.i64()
    size = r.i32()
    if size + 12 != len(records):
        raise RuntimeError("expected exactly one wrapper message")
    crc = r.u32()
    if zlib.crc32(records[16:]) != crc:
        raise RuntimeError("wrapper CRC mismatch")
    if r.i8() != magic:
        raise RuntimeError("wrapper magic")
    if r.i8() & 7 != codec_id:
        raise RuntimeError("wrapper codec")
    if magic == 1:
        r.i64()
    if r.bytes() is not None:
        raise RuntimeError("wrapper key")
    return r.bytes()


RUNS = [
    # magic, advertised apis, codecs
    (2, {18: (0, 3), 3: (0, 1), 0: (0, 7), 1: (0, 10), 10: (0, 0)},
     ["gzip", "snappy", "lz4", "zstd"]),
    (1, {18: (0, 3), 3: (0, 1), 0: (0, 2), 1: (0, 2), 10: (0, 0)}, ["lz4"]),
    (0, {18: (0, 3), 3: (0, 1), 0: (0, 1), 1: (0, 1), 10: (0, 0)}, ["lz4", "snappy"]),
]
CODEC_IDS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def main():
    outdir = sys.argv[1]
    server = Server(("127.0.0.1", 0), Handler)
    State.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    version = confluent_kafka.libversion()[0]
    manifest = []
    sets = message_sets()
    for magic, apis, codecs in RUNS:
        State.apis = apis
        for codec in codecs:
            for setname, msgs in sets.items():
                if magic < 2 and setname == "large":
                    msgs = msgs[:50]
                req_version, records = capture(codec, msgs)
                if magic == 2:
                    z = split_v2(records, CODEC_IDS[codec], len(msgs))
                    plain = records_v2(msgs)
                else:
                    z = split_v01(records, CODEC_IDS[codec], magic)
                    plain = message_set_v01(msgs, magic)
                base = "rdkafka-%s-m%d-%s" % (codec, magic, setname)
                pname = "records-m%d-%s.plain" % (magic, setname)
                with open(os.path.join(outdir, base + ".bin"), "wb") as f:
                    f.write(z)
                write_plain(os.path.join(outdir, pname), plain)
                manifest.append("%s %d %s.bin %s librdkafka-%s/produce-v%d" % (
                    codec, magic, base, pname, version, req_version))
                print(manifest[-1], len(z), len(plain))
    # kafka-python's own gzip codec, on the same v2 records.
    for setname in sets:
        pname = "records-m2-%s.plain" % setname
        with open(os.path.join(outdir, pname), "rb") as f:
            plain = f.read()
        base = "kafka-python-gzip-%s" % setname
        with open(os.path.join(outdir, base + ".bin"), "wb") as f:
            f.write(kafka.codec.gzip_encode(plain))
        manifest.append("gzip 2 %s.bin %s kafka-python-%s/codec.gzip_encode" % (
            base, pname, kafka.__version__))
        print(manifest[-1])

    with open(os.path.join(outdir, "MANIFEST.rdkafka"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    server.shutdown()


if __name__ == "__main__":
    main()
