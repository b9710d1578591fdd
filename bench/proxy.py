"""
A TCP relay on loopback that delays every chunk by a fixed one-way time.

Run: python bench/proxy.py --route DELAY_MS:TARGET_PORT [--route ...]

Each route listens on a free port of 127.0.0.1 and relays every accepted
connection to 127.0.0.1:TARGET_PORT.  Each direction of a connection has its
own queue: a chunk read at time t is written at t + DELAY_MS, in the order
read, so the round trip gains twice the delay and nothing is reordered.
Bandwidth is not limited (loopback sockets drain at once), only latency is
added, which is what separates push from no push.  The relay does not look
into the bytes, so TLS runs end to end between the client and the server.
Once every route listens, one JSON line on standard output maps each route,
as given, to its listening port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys

CHUNK = 65536
HOST = "127.0.0.1"


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    """Relay one direction, each chunk C{delay} seconds after it was read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:  # End of stream: pass the half-close on.
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    delivering = loop.create_task(deliver())
    try:
        while True:
            data = await reader.read(CHUNK)
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                break
        await delivering
    finally:
        delivering.cancel()


async def _relay(
    client: asyncio.StreamReader,
    clientWriter: asyncio.StreamWriter,
    targetPort: int,
    delay: float,
) -> None:
    try:
        server, serverWriter = await asyncio.open_connection(HOST, targetPort)
    except OSError:
        clientWriter.close()
        return
    pumps = [
        asyncio.ensure_future(_pump(client, serverWriter, delay)),
        asyncio.ensure_future(_pump(server, clientWriter, delay)),
    ]
    try:
        await asyncio.gather(*pumps)
    except (ConnectionError, OSError):
        pass  # One side went away: close both.
    finally:
        for pump in pumps:
            pump.cancel()
        for writer in (clientWriter, serverWriter):
            writer.close()


async def serve(routes: list[tuple[float, int]]) -> None:
    """
    Listen for every route, print the ports, then relay until stopped.

    @param routes: (one-way delay in milliseconds, target port) pairs.
    """
    servers = []
    ports = {}
    for delayMs, target in routes:

        async def accepted(
            reader: asyncio.StreamReader,
            writer: asyncio.StreamWriter,
            target: int = target,
            delay: float = delayMs / 1000,
        ) -> None:
            await _relay(reader, writer, target, delay)

        server = await asyncio.start_server(accepted, HOST, 0)
        servers.append(server)
        ports[f"{delayMs:g}:{target}"] = server.sockets[0].getsockname()[1]
    print(json.dumps(ports), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signalNumber in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signalNumber, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def _route(text: str) -> tuple[float, int]:
    delay, _, port = text.partition(":")
    return float(delay), int(port)


def main(argv: list[str] | None = None) -> None:
    """Parse the routes and serve them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--route",
        type=_route,
        action="append",
        required=True,
        metavar="DELAY_MS:TARGET_PORT",
        help="one-way delay in milliseconds and the port to relay to",
    )
    routes = parser.parse_args(argv).route
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(routes))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
