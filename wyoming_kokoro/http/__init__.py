"""The second front door: OpenAI's speech API and a web page, beside Wyoming.

Served by aiohttp, on the server's own asyncio loop: one process, one engine, one
scheduler, one phrase cache, one stats file; each speech request is the same
:class:`~wyoming_kokoro.request.SpeechRequest` a Wyoming ``synthesize`` makes (mode
``http`` in its record). aiohttp because it is asyncio-native (no second loop or thread
to bridge), small (no framework on top), long maintained, streams chunked responses
and has the test client the fast tests use; a WSGI or ASGI stack would bring a server
of its own.

``store`` (saved custom voices, the lexicon file) does not import aiohttp: the server
loads saved voices at start even with HTTP off.
"""
