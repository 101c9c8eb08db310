#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that counts the bytes it carries each way.

usage: count-proxy.py LISTEN_PORT TARGET_PORT COUNT_FILE
COUNT_FILE is rewritten after every chunk with "to_client to_server".
"""
import asyncio
import sys

listen, target, count_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
totals = [0, 0]


def save():
    with open(count_file, "w") as f:
        f.write(f"{totals[0]} {totals[1]}\n")


async def pipe(reader, writer, index):
    try:
        while data := await reader.read(1 << 16):
            totals[index] += len(data)
            save()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
    except ConnectionError:
        client_writer.close()
        return
    await asyncio.gather(pipe(server_reader, client_writer, 0), pipe(client_reader, server_writer, 1))


async def main():
    save()
    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


asyncio.run(main())
