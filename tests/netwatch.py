"""Every network endpoint this process touches while watched: Python's calls and native code's sockets.

Python code is seen through audit hooks (`socket.connect`, `socket.sendto`, `socket.getaddrinfo`). Native code
(llama.cpp, ONNX Runtime, CTranslate2) bypasses those, so a sampler thread also lists the process's own sockets
every 10 ms: the inodes behind /proc/self/fd, matched against /proc/net/{tcp,tcp6,udp,udp6}. Unix sockets are
local and not collected. Sockets that existed before the watch began (say, a test server's listener) are ignored.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_S = 0.01
_TCP_LISTEN = "0A"


@dataclass(frozen=True)
class InetSocket:
    proto: str  # tcp | tcp6 | udp | udp6
    local: tuple[str, int]
    remote: tuple[str, int]
    listening: bool


@dataclass
class Watch:
    calls: list[tuple[str, object]] = field(default_factory=list)  # (audit event, address or host)
    sockets: set[InetSocket] = field(default_factory=set)  # seen in /proc, opened during the watch


_current: Watch | None = None
_hook_installed = False


def _audit(event: str, args: tuple) -> None:
    watch = _current
    if watch is None or not event.startswith("socket."):
        return
    if event in ("socket.connect", "socket.sendto"):
        watch.calls.append((event, args[1]))
    elif event == "socket.getaddrinfo":
        watch.calls.append((event, args[0]))


@contextlib.contextmanager
def watching() -> Iterator[Watch]:
    """Record every endpoint reached inside the block. Audit hooks cannot be removed: this one idles after."""
    global _current, _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True
    watch = Watch()
    before = set(_own_inet_sockets())
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_S):
            watch.sockets.update(s for inode, s in _own_inet_sockets().items() if inode not in before)

    sampler = threading.Thread(target=sample, name="netwatch", daemon=True)
    _current = watch
    sampler.start()
    try:
        yield watch
    finally:
        _current = None
        stop.set()
        sampler.join()


def _own_inet_sockets() -> dict[int, InetSocket]:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # fds come and go while we look
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    found = {}
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        with contextlib.suppress(FileNotFoundError):  # no IPv6 in this kernel
            for line in Path(f"/proc/net/{proto}").read_text().splitlines()[1:]:
                fields = line.split()
                inode = int(fields[9])
                if inode in inodes:
                    found[inode] = InetSocket(proto, _endpoint(fields[1]), _endpoint(fields[2]),
                                              proto.startswith("tcp") and fields[3] == _TCP_LISTEN)
    return found


def _endpoint(hex_endpoint: str) -> tuple[str, int]:
    """"0100007F:1F90" → ("127.0.0.1", 8080): the address is stored as 32-bit words in host (little-endian) order."""
    address, port = hex_endpoint.split(":")
    raw = bytes.fromhex(address)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(words) == 4 else socket.AF_INET6
    text = socket.inet_ntop(family, words)
    return text.removeprefix("::ffff:") if "." in text else text, int(port, 16)  # IPv4-mapped IPv6
