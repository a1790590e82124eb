"""A child process that forwards Analyze calls to the policy packs, so the program's interpreter does not.

While a program runs, its interpreter is busy: a thread there that waits on gRPC answers gets the GIL
back only every few milliseconds, so streamed Analyze calls fell behind the program and were sent after it
(963 of 1,000 resources still queued when the program ended, benchmarks/engine.py). aifinops.pack_stream
hands the calls to this process instead: it writes each AnalyzeRequest, already serialized, to the relay's
stdin, and the relay sends it to every pack, a few calls in flight per pack, and keeps the answers. It
uses gRPC's asyncio client, which took a fifth less CPU than futures from threads (0.47 against 0.6 s for
2,000 calls).

Run as a script (`python -P analyze_relay.py TIMEOUT WINDOW PORT...`): it imports only grpc, so it starts in a
fraction of the time aifinops takes, and it passes bytes through without parsing a protobuf.

stdin, frames of `<u32 length><AnalyzeRequest>`, ended by a frame of length 0.
stdout, once every call is answered: for each pack (in PORT order), for each request (in stdin order),
`b"R" <u32 pack> <u32 request> <u32 length> <AnalyzeResponse>`. The first failed call instead ends the
output with `b"F" <u32 pack> <u32 request> <u32 length> <JSON {"code", "details", "inFlight"}>` (inFlight:
the requests that pack had in flight, any of which a crash may be due to), and nothing more is sent.
"""
from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
from typing import Any, BinaryIO, Iterator

HEADER = struct.Struct(">I")
RESULT = struct.Struct(">cIII")  # kind, pack, request, length
METHOD = "/pulumirpc.Analyzer/Analyze"
MAX_MESSAGE_BYTES = 400 * 1024 * 1024  # the policy SDK's own limit
# Both Analyzer clients' channels (this one, and aifinops.policy_runner's): messages up to that limit.
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]


def read_results(data: bytes) -> Iterator[tuple[bytes, int, int, bytes]]:
    """(kind, pack, request, payload) for each whole frame of the relay's output (a relay that died while
    writing leaves a cut frame at the end, which is left out: the answers are then too few)."""
    offset = 0
    while offset + RESULT.size <= len(data):
        kind, pack, request, length = RESULT.unpack_from(data, offset)
        offset += RESULT.size
        if offset + length > len(data):
            return
        yield kind, pack, request, data[offset:offset + length]
        offset += length


async def relay(ports: list[int], timeout: float, window: int, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Send every request of `stdin` to every pack, `window` calls in flight per pack; write the answers."""
    from grpc import aio  # here, so that the framing above is importable without starting gRPC

    channels = [aio.insecure_channel(f"127.0.0.1:{port}", options=CHANNEL_OPTIONS) for port in ports]
    calls = [channel.unary_unary(METHOD) for channel in channels]  # bytes in, bytes out
    answers: list[dict[int, bytes]] = [{} for _ in ports]
    in_flight: list[set[int]] = [set() for _ in ports]
    slots = [asyncio.Semaphore(window) for _ in ports]
    failures: list[tuple[int, int, dict[str, Any]]] = []  # in the order they happened

    async def analyze(pack: int, number: int, request: bytes) -> None:
        async with slots[pack]:
            if failures:
                return  # the run has failed: send nothing more
            in_flight[pack].add(number)
            try:
                answers[pack][number] = await calls[pack](request, timeout=timeout)
            except aio.AioRpcError as error:
                failures.append((pack, number, {"code": error.code().name, "details": error.details() or "",
                                                "inFlight": sorted(in_flight[pack])}))
            finally:
                in_flight[pack].discard(number)

    reader = asyncio.StreamReader(limit=MAX_MESSAGE_BYTES)
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    sent: list[asyncio.Future[None]] = []
    requests = 0
    while (length := HEADER.unpack(await reader.readexactly(HEADER.size))[0]) != 0:
        request = await reader.readexactly(length)
        sent += [asyncio.ensure_future(analyze(pack, requests, request)) for pack in range(len(ports))]
        requests += 1
    await asyncio.gather(*sent)
    if failures:
        pack, number, document = failures[0]
        payload = json.dumps(document).encode()
        stdout.write(RESULT.pack(b"F", pack, number, len(payload)) + payload)
    else:
        for pack, responses in enumerate(answers):
            for number in range(requests):
                stdout.write(RESULT.pack(b"R", pack, number, len(responses[number])) + responses[number])
    stdout.flush()


def main(argv: list[str]) -> None:
    timeout, window, *ports = argv
    asyncio.run(relay([int(port) for port in ports], float(timeout), int(window), sys.stdin.buffer,
                      sys.stdout.buffer))
    os._exit(0)  # the answers are written: gRPC's own shutdown would only delay the parent


if __name__ == "__main__":  # run with `python -P` (pack_stream does), so that this folder is not on sys.path
    main(sys.argv[1:])
