#!/usr/bin/python3
"""Record the request frames a real client sends, for the codec's golden tests.

A recording proxy: listens on 127.0.0.1:LISTEN, relays every connection to a
running broker at 127.0.0.1:UPSTREAM, and writes each client->broker frame (the
bytes after the size prefix) as hex to OUTDIR/PREFIX-NN.hex.  Run by hand; not
part of the test suite.

    capture.py LISTEN UPSTREAM OUTDIR PREFIX SECONDS
"""
import os
import select
import socket
import sys
import time

listen, upstream, outdir, prefix, seconds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen))
srv.listen(8)
pairs = {}   # client sock -> (upstream sock, pending bytes)
count = 0
deadline = time.time() + seconds
while time.time() < deadline:
    socks = [srv] + list(pairs) + [u for u, _ in pairs.values()]
    r, _, _ = select.select(socks, [], [], 0.2)
    for s in r:
        if s is srv:
            c, _ = srv.accept()
            u = socket.create_connection(("127.0.0.1", upstream))
            pairs[c] = (u, b"")
            continue
        client = s if s in pairs else next(c for c, (u, _) in pairs.items() if u is s)
        u, pending = pairs[client]
        data = s.recv(65536)
        if not data:
            client.close(); u.close(); del pairs[client]
            continue
        if s is client:
            u.sendall(data)
            pending += data
            while len(pending) >= 4:
                n = int.from_bytes(pending[:4], "big")
                if len(pending) < 4 + n:
                    break
                with open(os.path.join(outdir, "%s-%02d.hex" % (prefix, count)), "w") as f:
                    f.write(pending[4:4 + n].hex() + "\n")
                count += 1
                pending = pending[4 + n:]
            pairs[client] = (u, pending)
        else:
            client.sendall(data)
