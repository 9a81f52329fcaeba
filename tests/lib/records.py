"""Kafka v2 record batches built by hand, for tests that need bytes a real client
would never send (bad CRCs, wrong counts, old magics). DISK-FORMAT.md section 2."""

import struct
import time


def _crc32c_table():
	table = []
	for n in range(256):
		c = n
		for _ in range(8):
			c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
		table.append(c)
	return table


_TABLE = _crc32c_table()


def crc32c(data):
	c = 0xFFFFFFFF
	for b in data:
		c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
	return c ^ 0xFFFFFFFF


def varint(v):
	v = (v << 1) ^ (v >> 63)  # zigzag
	out = bytearray()
	while True:
		b = v & 0x7F
		v >>= 7
		if v:
			out.append(b | 0x80)
		else:
			out.append(b)
			return bytes(out)


def record(offset_delta, key, value, ts_delta=0, headers=()):
	body = bytearray(b"\x00")  # attributes
	body += varint(ts_delta) + varint(offset_delta)
	body += varint(-1) if key is None else varint(len(key)) + key
	body += varint(-1) if value is None else varint(len(value)) + value
	body += varint(len(headers))
	for hk, hv in headers:
		body += varint(len(hk)) + hk + (varint(-1) if hv is None else varint(len(hv)) + hv)
	return varint(len(body)) + bytes(body)


def batch(values, base_offset=0, timestamp=None, attributes=0, magic=2,
		count=None, last_offset_delta=None, producer_id=-1, producer_epoch=-1, base_sequence=-1,
		crc=None, records_bytes=None):
	"""One v2 batch of (key, value) pairs; every field can be overridden to make it wrong.
	The timestamp defaults to now: an old one would let retention.ms delete the batch."""
	if timestamp is None:
		timestamp = int(time.time() * 1000)
	recs = records_bytes if records_bytes is not None else b"".join(
		record(i, k, v) for i, (k, v) in enumerate(values))
	n = len(values) if count is None else count
	lod = (len(values) - 1 if values else 0) if last_offset_delta is None else last_offset_delta
	after_crc = struct.pack(">hiqqqhii", attributes, lod, timestamp, timestamp, producer_id, producer_epoch,
			base_sequence, n) + recs
	c = crc32c(after_crc) if crc is None else crc
	head = struct.pack(">ibI", -1, magic, c)  # partition leader epoch, magic, crc
	body = head + after_crc
	return struct.pack(">qi", base_offset, len(body)) + body
