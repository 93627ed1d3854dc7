"""Graceful shutdown as a load balancer needs it (stub model, in-process): the listening
socket closes at once, so the balancer's next connection is refused and goes elsewhere,
while the request in progress finishes whole."""

from __future__ import annotations

import asyncio

from wyoming.tts import Synthesize

from tests.stub import SAMPLES_PER_PHONEME, audio_bytes, stub_server, types


async def test_new_connections_are_refused_while_a_request_in_progress_finishes() -> None:
    async with stub_server() as server:
        client = await server.connect()
        server.model.gate.clear()  # the inference in progress waits here
        await client.send(Synthesize(text="A request in progress.").event())
        assert (await client.read()).type == "audio-start"  # type: ignore[union-attr]
        await asyncio.to_thread(server.model.running.wait, 5)
        shutdown = asyncio.create_task(server.server.shutdown(30))
        await asyncio.sleep(0)  # the shutdown has begun: the socket is closed
        try:
            # Refused while the request is still being rendered (the gate is closed).
            for _ in range(3):
                refused = False
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
                    writer.close()
                except ConnectionRefusedError:
                    refused = True
                assert refused
            assert not shutdown.done() and server.server.connections == 1
        finally:
            server.model.gate.set()
        events = await client.read_until("audio-stop")
        assert "error" not in types(events) and audio_bytes(events) > 0
        await asyncio.wait_for(shutdown, 10)
        record = await server.record(mode="oneshot")
        assert record.outcome == "ok"
        # Whole: every phoneme's audio arrived (the stub makes 10 ms, 2 bytes a sample each).
        assert audio_bytes(events) == record.phonemes * SAMPLES_PER_PHONEME * 2 > 0
