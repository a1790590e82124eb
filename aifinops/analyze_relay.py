"""A child process that forwards Analyze calls to the policy packs, so the program's interpreter does not.

While a program runs, its interpreter is busy: a thread there that waits on gRPC answers gets the GIL
back only every few milliseconds, so streamed Analyze calls fell behind the program and were sent after it
(963 of 1,000 resources still queued when the program ended, benchmarks/engine.py). aifinops.pack_stream
hands the calls to this process instead: it writes each AnalyzeRequest, already serialized, to the relay's
stdin, and the relay sends it to every pack, a few calls in flight per pack, and keeps the answers.

Run as a script (`python -P analyze_relay.py TIMEOUT WINDOW PORT...`): it imports only grpc, so it starts in a
fraction of the time aifinops takes, and it passes bytes through without parsing a protobuf.

stdin, frames of `<u32 length><AnalyzeRequest>`, ended by a frame of length 0.
stdout, once every call is answered: for each pack (in PORT order), for each request (in stdin order),
`b"R" <u32 pack> <u32 request> <u32 length> <AnalyzeResponse>`. The first failed call instead ends the
output with `b"F" <u32 pack> <u32 request> <u32 length> <JSON {"code", "details", "inFlight"}>` (inFlight:
the requests that pack had in flight, any of which a crash may be due to).
"""
from __future__ import annotations

import collections
import json
import queue
import struct
import sys
import threading
from typing import Any, BinaryIO, Iterator, Optional

HEADER = struct.Struct(">I")
RESULT = struct.Struct(">cIII")  # kind, pack, request, length
METHOD = "/pulumirpc.Analyzer/Analyze"
_MAX_MESSAGE_BYTES = 400 * 1024 * 1024  # the policy SDK's own limit


def write_request(stream: BinaryIO, request: bytes) -> None:
    stream.write(HEADER.pack(len(request)) + request)


def read_results(data: bytes) -> Iterator[tuple[bytes, int, int, bytes]]:
    """(kind, pack, request, payload) for each frame of the relay's output."""
    offset = 0
    while offset < len(data):
        kind, pack, request, length = RESULT.unpack_from(data, offset)
        offset += RESULT.size
        yield kind, pack, request, data[offset:offset + length]
        offset += length


class _Failed(Exception):
    def __init__(self, pack: int, request: int, document: dict[str, Any]) -> None:
        super().__init__(document.get("details", ""))
        self.pack, self.request, self.document = pack, request, document


def _requests(stream: BinaryIO, into: "queue.SimpleQueue[Optional[bytes]]") -> None:
    """Read frames from stdin into `into` as fast as they come, so the writer never waits on the packs."""
    while True:
        header = stream.read(HEADER.size)
        length = HEADER.unpack(header)[0] if len(header) == HEADER.size else 0
        if not length:
            into.put(None)
            return
        into.put(stream.read(length))


def relay(ports: list[int], timeout: float, window: int, stdin: BinaryIO, stdout: BinaryIO) -> None:
    import grpc  # here, so that the framing above is importable without starting gRPC

    options = [("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
               ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES)]
    channels = [grpc.insecure_channel(f"127.0.0.1:{port}", options=options) for port in ports]
    calls = [channel.unary_unary(METHOD) for channel in channels]  # bytes in, bytes out
    in_flight: list[collections.deque[tuple[int, Any]]] = [collections.deque() for _ in ports]
    answers: list[list[bytes]] = [[] for _ in ports]
    incoming: queue.SimpleQueue[Optional[bytes]] = queue.SimpleQueue()
    threading.Thread(target=_requests, args=(stdin, incoming), daemon=True).start()

    def collect(pack: int) -> None:
        number, future = in_flight[pack][0]
        try:
            answers[pack].append(future.result())
        except grpc.RpcError as error:
            raise _Failed(pack, number, {"code": error.code().name, "details": error.details() or "",
                                         "inFlight": [n for n, _ in in_flight[pack]]}) from None
        in_flight[pack].popleft()

    try:
        number = 0
        while (request := incoming.get()) is not None:
            for pack, call in enumerate(calls):
                while len(in_flight[pack]) >= window:
                    collect(pack)
                in_flight[pack].append((number, call.future(request, timeout=timeout)))
                while in_flight[pack] and in_flight[pack][0][1].done():
                    collect(pack)
            number += 1
        for pack in range(len(calls)):
            while in_flight[pack]:
                collect(pack)
    except _Failed as failure:
        payload = json.dumps(failure.document).encode()
        stdout.write(RESULT.pack(b"F", failure.pack, failure.request, len(payload)) + payload)
    else:
        for pack, responses in enumerate(answers):
            for number, response in enumerate(responses):
                stdout.write(RESULT.pack(b"R", pack, number, len(response)) + response)
    stdout.flush()


def main(argv: list[str]) -> int:
    timeout, window, *ports = argv
    relay([int(port) for port in ports], float(timeout), int(window), sys.stdin.buffer, sys.stdout.buffer)
    return 0


if __name__ == "__main__":  # run with `python -P` (pack_stream does), so that this folder is not on sys.path
    sys.exit(main(sys.argv[1:]))
