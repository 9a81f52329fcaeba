#!/usr/bin/env python3
"""
Writes the golden log-directory files of tests/golden/log, byte by byte from
../shared/kafka-protocol/DISK-FORMAT.md (Kafka 3.9's on-disk format), without
using samsa or Kafka code.  Run from anywhere:

    python3 tests/golden/log/make_golden.py

The outputs are committed; tests/unit/test_log_format.c and test_log.c compare
samsa's reads and writes against them.  What the files hold (the tests hard-code
the same facts, so a change here must be made there too):

  logdir/orders-0/00000000000000000000.log   three v2 batches, offsets 0..5:
    A  pos   0, 98 bytes, base 0, epoch 0, 2 records (ts T, T+5; second has a
       null key and one header), CreateTime
    B  pos  98, 70 bytes, base 2, epoch 0, 1 record (ts T+10)
    C  pos 168, 91 bytes, base 3, epoch 2, idempotent (producer id 1000, epoch
       0, base sequence 0), 3 records with timestamps T+30, T+20, T+25 (negative
       timestamp deltas)
    T = 1700000000000 (2023-11-14T22:13:20Z)
  ...0.index / ...0.timeindex  what a broker with index.interval.bytes=80
    writes for those three appends (one batch each) after the segment is
    closed: one offset entry (offset 2 at position 98: more than 80 bytes had
    gone in when B came), time entries (T+10, 2) at the same moment and
    (T+30, 5) added on close.
  logdir/orders-0/leader-epoch-checkpoint    epochs 0 at 0 and 2 at 3
  logdir/orders-0/partition.metadata          a topic id, no trailing newline
  logdir/recovery-point-offset-checkpoint, replication-offset-checkpoint,
  log-start-offset-checkpoint                 offset checkpoint text files
  logdir/meta.properties                      version 0 (ZooKeeper mode), date
                                              line for T in UTC
  logdir/.kafka_cleanshutdown                 clean-shutdown marker (ZK: -1)
"""
import base64
import datetime
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "logdir")
PART = os.path.join(OUT, "orders-0")

T = 1700000000000
INDEX_INTERVAL_BYTES = 80

# --- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) -----------------

_TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283

# --- zig-zag varints (DISK-FORMAT.md: ByteUtils.writeVarint/writeVarlong) --


def uvarint(u):
    out = bytearray()
    while True:
        if u < 0x80:
            out.append(u)
            return bytes(out)
        out.append((u & 0x7F) | 0x80)
        u >>= 7


def varint(v):  # int32, zig-zag
    return uvarint(((v << 1) ^ (v >> 31)) & 0xFFFFFFFF)


def varlong(v):  # int64, zig-zag
    return uvarint(((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF)


def blob(b):  # varint length, -1 = null
    return varint(-1) if b is None else varint(len(b)) + b


# --- one record (DefaultRecord) --------------------------------------------


def record(ts_delta, off_delta, key, value, headers=()):
    body = bytearray()
    body += b"\x00"                  # Attributes int8, unused
    body += varlong(ts_delta)        # TimestampDelta
    body += varint(off_delta)        # OffsetDelta
    body += blob(key)                # KeyLength + Key
    body += blob(value)              # ValueLength + Value
    body += varint(len(headers))     # HeadersCount
    for hk, hv in headers:
        body += varint(len(hk)) + hk  # HeaderKeyLength + HeaderKey
        body += blob(hv)              # HeaderValueLength + HeaderValue
    return varint(len(body)) + bytes(body)


# --- one v2 batch (DefaultRecordBatch), fields in file order ----------------


def batch(base_offset, epoch, records, producer_id=-1, producer_epoch=-1,
          base_sequence=-1, attributes=0):
    """records: list of (timestamp, key, value, headers)."""
    base_ts = records[0][0]
    max_ts = max(r[0] for r in records)
    recs = b"".join(record(ts - base_ts, i, k, v, h)
                    for i, (ts, k, v, h) in enumerate(records))
    # Attributes .. end: the CRC'd part
    tail = bytearray()
    tail += struct.pack(">h", attributes)          # 21 Attributes
    tail += struct.pack(">i", len(records) - 1)    # 23 LastOffsetDelta
    tail += struct.pack(">q", base_ts)             # 27 BaseTimestamp
    tail += struct.pack(">q", max_ts)              # 35 MaxTimestamp
    tail += struct.pack(">q", producer_id)         # 43 ProducerId
    tail += struct.pack(">h", producer_epoch)      # 51 ProducerEpoch
    tail += struct.pack(">i", base_sequence)       # 53 BaseSequence
    tail += struct.pack(">i", len(records))        # 57 RecordCount
    tail += recs                                   # 61 Records
    after_length = bytearray()
    after_length += struct.pack(">i", epoch)       # 12 PartitionLeaderEpoch
    after_length += struct.pack(">b", 2)           # 16 Magic
    after_length += struct.pack(">I", crc32c(tail))  # 17 CRC
    after_length += tail
    return (struct.pack(">q", base_offset)         # 0 BaseOffset
            + struct.pack(">i", len(after_length))  # 8 Length
            + bytes(after_length))


A = batch(0, 0, [
    (T, b"key-0", b"value-0", ()),
    (T + 5, None, b"value-1", ((b"h", b"x"),)),
])
B = batch(2, 0, [(T + 10, b"k", b"v", ())])
C = batch(3, 2, [
    (T + 30, b"c0", b"x", ()),
    (T + 20, b"c1", b"y", ()),
    (T + 25, b"c2", b"z", ()),
], producer_id=1000, producer_epoch=0, base_sequence=0)
BATCHES = [(A, 0, 1), (B, 2, 2), (C, 3, 5)]  # bytes, base offset, last offset

assert (len(A), len(B), len(C)) == (98, 70, 91), (len(A), len(B), len(C))

# --- indexes: Kafka's LogSegment.append rule, one batch per append ----------
# An offset entry (last offset of the append, position where it started) and
# a time entry (max timestamp so far, last offset of the batch holding it) are
# written when more than index.interval.bytes went in since the last entry.


def batch_max_ts(b):
    return struct.unpack(">q", b[35:43])[0]


offset_entries, time_entries = [], []
pos = since = 0
max_ts, max_ts_off = -1, 0
for data, base, last in BATCHES:
    if batch_max_ts(data) > max_ts:
        max_ts, max_ts_off = batch_max_ts(data), last
    if since > INDEX_INTERVAL_BYTES:
        offset_entries.append((last, pos))
        if not time_entries or max_ts > time_entries[-1][0]:
            time_entries.append((max_ts, max_ts_off))
        since = 0
    since += len(data)
    pos += len(data)
# On close, the time index gets the segment's max timestamp if it is new.
if not time_entries or max_ts > time_entries[-1][0]:
    time_entries.append((max_ts, max_ts_off))

assert offset_entries == [(2, 98)]
assert time_entries == [(T + 10, 2), (T + 30, 5)]

SEGMENT_BASE = 0
index = b"".join(struct.pack(">ii", off - SEGMENT_BASE, p) for off, p in offset_entries)
timeindex = b"".join(struct.pack(">qi", ts, off - SEGMENT_BASE) for ts, off in time_entries)

# --- text files ----------------------------------------------------------------


def checkpoint(lines):
    return ("0\n%d\n" % len(lines) + "".join(l + "\n" for l in lines)).encode()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


name = "%020d" % SEGMENT_BASE
write(os.path.join(PART, name + ".log"), A + B + C)
write(os.path.join(PART, name + ".index"), index)
write(os.path.join(PART, name + ".timeindex"), timeindex)
write(os.path.join(PART, "leader-epoch-checkpoint"), checkpoint(["0 0", "2 3"]))
topic_id = base64.urlsafe_b64encode(bytes(range(0x10, 0x20))).rstrip(b"=")
assert len(topic_id) == 22
write(os.path.join(PART, "partition.metadata"), b"version: 0\ntopic_id: " + topic_id)

write(os.path.join(OUT, "recovery-point-offset-checkpoint"),
      checkpoint(["orders 0 6", "my-topic.v2 1 0"]))
write(os.path.join(OUT, "replication-offset-checkpoint"),
      checkpoint(["orders 0 5", "my-topic.v2 1 0"]))
write(os.path.join(OUT, "log-start-offset-checkpoint"), checkpoint(["orders 1 42"]))

# Java Date.toString: "EEE MMM dd HH:mm:ss zzz yyyy", here for T in UTC.
d = datetime.datetime.fromtimestamp(T // 1000, datetime.timezone.utc)
days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
date = "%s %s %02d %02d:%02d:%02d UTC %d" % (days[d.weekday()], months[d.month - 1], d.day,
                                             d.hour, d.minute, d.second, d.year)
write(os.path.join(OUT, "meta.properties"),
      ("#\n#%s\nversion=0\nbroker.id=1\ncluster.id=Wz2bqF9gT7-Q2y0cT3JbDw\n" % date).encode())
write(os.path.join(OUT, ".kafka_cleanshutdown"), b'{"version":0,"brokerEpoch":-1}')
