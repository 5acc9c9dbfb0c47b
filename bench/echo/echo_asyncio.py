"""The echo rig's asyncio server: the model evloop follows, on CPython's own loop or on uvloop.

A Protocol, not streams: it is the fastest way to write this on asyncio, so evloop's protocol
server is compared with asyncio at its best. Writing is flow-controlled the way asyncio
intends: while the transport's buffer is over its high-water mark, the protocol stops reading.

usage: python3 bench/echo/echo_asyncio.py --port N [--loop auto|asyncio|uvloop]
  --loop auto (default) uses uvloop when it can be imported, else asyncio's own loop.
  --port 0 takes a free port. Prints "listening on 127.0.0.1:PORT (LOOP)" once it accepts.
"""
import argparse
import asyncio
import signal
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()


async def serve(port, name):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", port, backlog=1024)
    print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]} ({name})", flush=True)
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    await stop
    server.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    args = parser.parse_args()
    uvloop = None
    if args.loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if args.loop == "uvloop":
                sys.exit("echo_asyncio.py: uvloop is not importable by " + sys.executable)
    if uvloop is not None:
        loop = uvloop.new_event_loop()
        name = "uvloop " + uvloop.__version__
    else:
        loop = asyncio.new_event_loop()
        name = "asyncio, Python " + sys.version.split()[0]
    try:
        loop.run_until_complete(serve(args.port, name))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
