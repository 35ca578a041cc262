"""The metadata proxy of one subnet: 169.254.169.254:80 in its DHCP namespace -> the gateway.

Run by the network driver as a script of its own (``python -I -S metadata_proxy.py …``, the
standard library only, so it starts in tens of milliseconds and holds a few MB) inside the
subnet's DHCP namespace. For each connection it reads one request, refuses anything it does not
fully understand, removes whatever the guest sent under the names of the two identity headers,
sets them to the network it serves and the source address of the connection, and relays the
request to the gateway's unix socket, then the answer back. One request per connection
(``Connection: close`` both ways), no chunked bodies, no absolute URLs: nothing can be smuggled
past it, and it can reach nothing but that socket.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket

#: must equal ``interstack.backends.contract.METADATA_NETWORK_HEADER`` / ``…SOURCE_HEADER``
#: (this script imports nothing of interstack; a unit test keeps the names in step)
NETWORK_HEADER = "X-Interstack-Network-Id"
SOURCE_HEADER = "X-Forwarded-For"
METADATA_HOST = b"169.254.169.254"
MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
TIMEOUT_SECONDS = 30.0
#: connections served at once; more are closed at once (a guest cannot exhaust the proxy)
MAX_CONNECTIONS = 64
METHODS = frozenset({b"GET", b"HEAD", b"POST"})
#: never relayed: hop-by-hop headers, and whatever claims an identity
DROPPED = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"upgrade",
        b"forwarded",
        b"host",
        b"x-real-ip",
        NETWORK_HEADER.lower().encode(),
        SOURCE_HEADER.lower().encode(),
    }
)
REASONS = {
    400: "Bad Request",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
}
#: the longest path ``connect`` takes for a unix socket
MAX_SOCKET_PATH = 107


class Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def socket_target(path: str) -> tuple[str, int | None]:
    """What to connect to: the path, or (when too long for ``sun_path``) the same socket
    through a descriptor of its directory, kept open for the process's life."""
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path, None
    directory, name = os.path.split(path)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    return f"/proc/self/fd/{fd}/{name}", fd


def parse_head(head: bytes) -> tuple[bytes, list[tuple[bytes, bytes]], int]:
    """The request line, the headers to relay and the body length; :class:`Refused` for
    anything ambiguous."""
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[2] not in (b"HTTP/1.0", b"HTTP/1.1"):
        raise Refused(400)
    method, target, _version = parts
    if method not in METHODS:
        raise Refused(405)
    if not target.startswith(b"/"):  # origin form only: the proxy goes to one place
        raise Refused(400)
    relayed: list[tuple[bytes, bytes]] = []
    lengths: set[bytes] = set()
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
            raise Refused(400)
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            raise Refused(411)
        if lowered == b"content-length":
            lengths.add(value.strip())
            continue
        if lowered not in DROPPED:
            relayed.append((name, value.strip()))
    if len(lengths) > 1 or any(not v.isdigit() for v in lengths):
        raise Refused(400)
    length = int(lengths.pop()) if lengths else 0
    if length > MAX_BODY_BYTES:
        raise Refused(413)
    return method + b" " + target + b" HTTP/1.1", relayed, length


def refusal(status: int) -> bytes:
    reason = REASONS[status]
    body = f"{reason}\n".encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


class Proxy:
    def __init__(self, network_id: str, upstream: str) -> None:
        self.network_id = network_id.encode()
        self.upstream = upstream
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.connections >= MAX_CONNECTIONS:
            writer.close()
            return
        self.connections += 1
        try:
            await asyncio.wait_for(self._relay(reader, writer), TIMEOUT_SECONDS)
        except Refused as refused:
            writer.write(refusal(refused.status))
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.connections -= 1
            with contextlib.suppress(OSError):
                await writer.drain()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            raise Refused(431) from exc
        request_line, headers, length = parse_head(head)
        body = await reader.readexactly(length) if length else b""
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
        except OSError as exc:
            raise Refused(502) from exc
        try:
            lines = [request_line, *(name + b": " + value for name, value in headers)]
            lines += [
                b"Host: " + METADATA_HOST,
                NETWORK_HEADER.encode() + b": " + self.network_id,
                SOURCE_HEADER.encode() + b": " + str(peer[0]).encode(),
                b"Content-Length: " + str(length).encode(),
                b"Connection: close",
            ]
            up_writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
            await up_writer.drain()
            while chunk := await up_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        finally:
            up_writer.close()


async def main(args: argparse.Namespace) -> None:
    upstream, _keep = socket_target(args.socket)
    proxy = Proxy(args.network_id, upstream)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.address, args.port))
    server = await asyncio.start_server(proxy.serve, sock=listener, limit=MAX_HEAD_BYTES)
    if args.pid_file:
        with open(args.pid_file, "w", encoding="ascii") as pid_file:
            pid_file.write(f"{os.getpid()}\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="interstack metadata proxy")
    parser.add_argument("--socket", required=True, help="the gateway's metadata unix socket")
    parser.add_argument("--network-id", required=True, help="the network this proxy serves")
    parser.add_argument("--address", default="169.254.169.254")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--pid-file", default="")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(arguments()))
