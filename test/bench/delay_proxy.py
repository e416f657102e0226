#!/usr/bin/python3
"""A TCP proxy that adds a fixed round-trip delay (test/bench/network.sh).

usage: delay_proxy.py --target-port PORT [--target-host 127.0.0.1]
                      [--listen-port 0] [--rtt-ms 0.25] [--port-file FILE]
                      [--stats FILE] [--spin-us 1000]

Listens on 127.0.0.1 (port 0: one the kernel picks, written to --port-file
once it accepts connections) and forwards every connection to the target.
Each chunk read from either side is written to the other side half the
round-trip delay after it arrived (so a request and its reply, one round
trip, pay --rtt-ms in all), in order; with --rtt-ms 0 it is written at once
(the proxy's own cost: one more TCP hop and a Python callback each way).
TCP_NODELAY on both sockets.  Python 3 standard library only.

Timers below 1 ms: asyncio's default loop sleeps in epoll_wait, whose
timeout is whole milliseconds (a 0.125 ms delay would become 1 ms).  This
proxy uses select() (microseconds) with the thread's timer slack set to
1 ns (prctl, Linux), and busy-waits the last --spin-us microseconds before
a deadline (default 1000: the whole hold of a delay up to 2 ms RTT), so that
a chunk leaves within microseconds of its deadline; waking from a sleep
instead costs 50-150 us more per hop on a small VM.  The spin burns one CPU
while a chunk is held: fine for the one-client runs of network.sh.  On SIGTERM or
SIGINT it writes to --stats (JSON) how late the chunks went out against
their deadlines (p50, p99, max, in microseconds) and how many there were.
"""
import argparse
import asyncio
import collections
import ctypes
import json
import os
import selectors
import signal
import socket
import sys
import time

now = time.monotonic


class Stats:
    def __init__(self):
        self.late_us = []       # lateness of each delayed chunk (sampled)
        self.chunks = 0
        self.bytes = 0
        self.connections = 0

    def record(self, late):
        self.chunks += 1
        if len(self.late_us) < 200000:
            self.late_us.append(late * 1e6)

    def dump(self):
        v = sorted(self.late_us)

        def pct(p):
            return round(v[min(len(v) - 1, int(len(v) * p))], 1) if v else None
        return {'connections': self.connections, 'chunks': self.chunks, 'bytes': self.bytes,
                'late_us_p50': pct(0.50), 'late_us_p99': pct(0.99),
                'late_us_max': round(v[-1], 1) if v else None}


STATS = Stats()


class Side(asyncio.Protocol):
    """One socket of a proxied connection; `peer` is the other one."""

    def __init__(self, half, spin):
        self.half, self.spin = half, spin
        self.transport = None
        self.peer = None
        self.queue = collections.deque()   # (deadline, bytes) to write to peer
        self.timer = None
        self.pending = []                  # data received before the peer exists
        self.closed = False

    # -- the socket ----------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info('socket')
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        STATS.bytes += len(data)
        if self.half <= 0:
            if self.peer is None:
                self.pending.append(data)
            else:
                self.peer.transport.write(data)
            return
        self.queue.append((now() + self.half, data))
        if self.timer is None:
            self._arm()

    def eof_received(self):
        # the peer gets its EOF once every delayed chunk is out
        self.queue.append((now() + max(self.half, 0), None))
        if self.timer is None:
            self._arm()
        return True

    def connection_lost(self, exc):
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.peer is not None and not self.peer.closed:
            self.peer.transport.close()

    # flow control: when the peer's write buffer fills, stop reading here
    def pause_writing(self):
        if self.peer is not None and not self.peer.closed:
            self.peer.transport.pause_reading()

    def resume_writing(self):
        if self.peer is not None and not self.peer.closed:
            self.peer.transport.resume_reading()

    # -- the delayed writes --------------------------------------------------
    def _arm(self):
        deadline = self.queue[0][0]
        loop = asyncio.get_running_loop()
        # wake a little early, then spin up to the deadline
        self.timer = loop.call_at(deadline - self.spin, self._flush)

    def _flush(self):
        self.timer = None
        if self.closed or self.peer is None:
            if not self.closed and self.queue:   # peer not connected yet
                self.timer = asyncio.get_running_loop().call_later(0.0002, self._flush)
            return
        if self.queue:
            deadline = self.queue[0][0]
            while now() < deadline:              # at most --spin-us
                pass
        t = now()
        while self.queue and self.queue[0][0] <= t:
            deadline, data = self.queue.popleft()
            if data is None:
                if not self.peer.closed and self.peer.transport.can_write_eof():
                    self.peer.transport.write_eof()
                continue
            STATS.record(t - deadline)
            if not self.peer.closed:
                self.peer.transport.write(data)
        if self.queue:
            self._arm()


async def serve(args):
    loop = asyncio.get_running_loop()
    half = args.rtt_ms / 2000.0
    spin = min(args.spin_us * 1e-6, half) if half > 0 else 0.0

    async def attach(client):
        client.transport.pause_reading()
        try:
            _, upstream = await loop.create_connection(lambda: Side(half, spin),
                                                       args.target_host, args.target_port)
        except OSError:
            client.transport.close()
            return
        client.peer, upstream.peer = upstream, client
        for data in client.pending:
            upstream.transport.write(data)
        client.pending = []
        client.transport.resume_reading()

    def accept():
        side = Side(half, spin)
        STATS.connections += 1
        orig = side.connection_made

        def made(transport):
            orig(transport)
            loop.create_task(attach(side))
        side.connection_made = made
        return side

    server = await loop.create_server(accept, '127.0.0.1', args.listen_port,
                                      reuse_address=True, backlog=128)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        with open(args.port_file + '.tmp', 'w') as f:
            f.write(f'{port}\n')
        os.replace(args.port_file + '.tmp', args.port_file)
    else:
        print(port, flush=True)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    await stop
    server.close()
    if args.stats:
        s = STATS.dump()
        s['rtt_ms'] = args.rtt_ms
        with open(args.stats, 'w') as f:
            json.dump(s, f)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--target-host', default='127.0.0.1')
    p.add_argument('--target-port', type=int, required=True)
    p.add_argument('--listen-port', type=int, default=0)
    p.add_argument('--rtt-ms', type=float, default=0.0)
    p.add_argument('--spin-us', type=float, default=1000.0)
    p.add_argument('--port-file')
    p.add_argument('--stats')
    args = p.parse_args()
    try:   # PR_SET_TIMERSLACK: wake up on time, not up to 50 us late
        ctypes.CDLL(None, use_errno=True).prctl(29, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve(args))
    finally:
        loop.close()


if __name__ == '__main__':
    sys.exit(main())
