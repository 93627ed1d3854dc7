"""The HTTP front door, fast layer: a real aiohttp client on a loopback port, against the
real request path around the stub model (tests/stub.py)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
import yaml
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.stub import PARAGRAPH, SAMPLES_PER_PHONEME, RecordingWriter, StubServer, stub_server
from wyoming_kokoro.http.app import HttpFrontDoor, HttpOptions
from wyoming_kokoro.http.encode import FORMATS
from wyoming_kokoro.http.metrics import Metrics
from wyoming_kokoro.http.speech import blend_spec
from wyoming_kokoro.http.store import VOICES_FILE, load_saved_voices
from wyoming_kokoro.stats import RequestStats

KEY = "s3cret-key"


def observe(writer: RecordingWriter) -> Metrics:
    """The stub server's writer (Wyoming's records too) also counts into metrics, as the
    server's ObservedStatsWriter does."""
    metrics = Metrics()

    def write(record: RequestStats) -> None:
        RecordingWriter.write(writer, record)
        metrics.observe(record)

    writer.write = write  # type: ignore[method-assign]
    return metrics


@dataclass
class Http:
    stub: StubServer
    front: HttpFrontDoor
    session: aiohttp.ClientSession
    writer: RecordingWriter
    folder: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.front.port}"

    async def speech(self, **body: Any) -> aiohttp.ClientResponse:
        body.setdefault("model", "kokoro")
        body.setdefault("input", "Hello there.")
        return await self.session.post(f"{self.url}/v1/audio/speech", json=body)

    def records(self) -> list[RequestStats]:
        return [r for r in self.writer.records if r.mode == "http"]


async def _start(tmp: Path, **options: Any) -> AsyncIterator[Http]:
    async with stub_server() as stub:
        writer = stub.stats
        metrics = observe(writer)
        folder = tmp / "data"
        folder.mkdir(exist_ok=True)
        settings = HttpOptions(
            address="127.0.0.1:0",
            voices_folder=folder,
            lexicon_path=folder / "lexicon.yaml",
            max_text_chars=2000,
            **options,
        )
        front = HttpFrontDoor(stub.handle, writer, metrics, settings)
        await front.start()
        async with aiohttp.ClientSession() as session:
            try:
                yield Http(stub, front, session, writer, folder)
            finally:
                await front.shutdown(1.0)


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[Http]:
    async for running in _start(tmp_path):
        yield running


@pytest.fixture
async def keyed(tmp_path: Path) -> AsyncIterator[Http]:
    async for running in _start(tmp_path, api_key=KEY):
        yield running


@pytest.fixture
async def ingress(tmp_path: Path) -> AsyncIterator[Http]:
    """Requests from 127.0.0.1 count as the Supervisor's ingress proxy here."""
    async for running in _start(tmp_path, ingress_peers=frozenset({"127.0.0.1"})):
        yield running


INGRESS = {"X-Ingress-Path": "/api/hassio_ingress/abc123"}


# --------------------------------------------------------------------------- speech


async def test_pcm_is_the_requests_audio_and_one_http_record(http: Http) -> None:
    response = await http.speech(input="Hello there.", voice="am_adam", response_format="pcm")
    assert response.status == 200
    assert response.headers["Content-Type"] == "audio/pcm"
    assert response.headers.get("Transfer-Encoding") == "chunked"
    body = await response.read()
    (record,) = http.records()
    assert record.outcome == "ok" and record.voice == "am_adam"
    phonemes = len("hello there.")
    assert len(body) == 2 * phonemes * SAMPLES_PER_PHONEME  # the stub's audio, untouched
    assert record.audio_seconds == pytest.approx(len(body) / 2 / 24000, abs=1e-3)
    assert record.first_audio_ms is not None


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "pcm"])
async def test_every_format_decodes(http: Http, fmt: str) -> None:
    response = await http.speech(input=PARAGRAPH, response_format=fmt)
    assert response.status == 200, await response.text()
    body = await response.read()
    with av.open(io.BytesIO(body)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
        rate = container.streams.audio[0].sample_rate
    expected = len(PARAGRAPH) * SAMPLES_PER_PHONEME  # roughly: the stub reads letters
    assert samples / rate == pytest.approx(expected / 24000, rel=0.25)


async def test_audio_streams_before_the_request_ends(http: Http) -> None:
    """The first bytes arrive while the model is still held on a later segment."""
    http.stub.model.gate.set()
    text = "First sentence here. " + "Second sentence. " * 5
    model = http.stub.model

    async def hold_after_first() -> None:
        while model.calls < 1:
            await asyncio.sleep(0.005)
        model.gate.clear()

    holder = asyncio.create_task(hold_after_first())
    response = await http.speech(input=text, response_format="mp3")
    assert response.status == 200
    first = await asyncio.wait_for(response.content.readany(), 5)
    assert first  # audio came out while the rest is still being made
    await holder
    assert not http.records()  # the request is not over
    model.gate.set()
    rest = await response.read()
    assert rest and http.records()[0].outcome == "ok"


async def test_non_streamed_wav_has_its_true_length(http: Http) -> None:
    response = await http.speech(response_format="wav", stream=False)
    body = await response.read()
    assert response.headers["Content-Length"] == str(len(body))
    assert int.from_bytes(body[40:44], "little") == len(body) - 44


async def test_blends_in_both_spellings_and_openai_names(http: Http) -> None:
    for voice, name in [
        ("af_heart(2)+am_adam(1)", "af_heart:2+am_adam:1"),
        ("af_heart:70+am_adam:30", "af_heart:70+am_adam:30"),
        ("alloy", "af_heart"),  # an OpenAI name Kokoro lacks here: the default voice
        ("bf_emma", "bf_emma"),
    ]:
        response = await http.speech(voice=voice, response_format="pcm")
        assert response.status == 200, (voice, await response.text())
        await response.read()
        assert http.records()[-1].voice == name
    assert blend_spec("af_bella(2)+af_sky(1)") == "af_bella:2+af_sky:1"


async def test_lang_speaks_the_voice_in_another_language(http: Http) -> None:
    response = await http.speech(voice="af_heart", lang="fr", response_format="pcm")
    await response.read()
    assert http.records()[-1].language == "fr_FR"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "whisper-1"}, 404, "model"),
        ({"input": ""}, 400, "input"),
        ({"input": "x" * 2001}, 400, "input"),
        ({"voice": "nobody_here"}, 400, "voice"),
        ({"voice": "af_heart:70+ghost:30"}, 400, "voice"),
        ({"voice": "af_bella(2)-af_sky(1)"}, 400, "voice"),
        ({"response_format": "ogg"}, 400, "response_format"),
        ({"speed": 9}, 400, "speed"),
        ({"speed": "fast"}, 400, "speed"),
        ({"lang": "xx"}, 400, "lang"),
    ],
)
async def test_bad_requests_get_openai_errors(
    http: Http, body: dict[str, Any], status: int, param: str
) -> None:
    response = await http.speech(**body)
    assert response.status == status
    error = (await response.json())["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and error["message"]
    assert http.records() == []  # refused before it became a request


async def test_not_json_and_too_large(http: Http) -> None:
    url = f"{http.url}/v1/audio/speech"
    response = await http.session.post(
        url, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400 and (await response.json())["error"]["code"] == "invalid_json"
    response = await http.session.post(url, data=b"x" * (http.front.options.max_body_bytes + 10))
    assert response.status == 413 and "error" in await response.json()


async def test_a_failure_before_audio_is_an_error_status_and_record(http: Http) -> None:
    response = await http.speech(voice="jf_alpha", response_format="pcm")  # ja "not installed"
    assert response.status == 500
    assert "not installed" in (await response.json())["error"]["message"]
    (record,) = http.records()
    assert record.outcome == "error"


async def test_a_failure_after_audio_cuts_the_body_short(http: Http) -> None:
    http.stub.model.fail_on = "second"
    response = await http.speech(
        input="First part here. Then the second one.", response_format="pcm"
    )
    assert response.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
    for _ in range(100):
        if http.records():
            break
        await asyncio.sleep(0.01)
    assert http.records()[0].outcome == "error"


async def test_wyoming_is_served_beside_http(http: Http) -> None:
    client = await http.stub.connect()
    await client.send(Synthesize(text="Hi.", voice=SynthesizeVoice(name="af_heart")).event())
    events = await client.read_until("audio-stop")
    assert events[0].type == "audio-start"
    response = await http.speech(response_format="pcm")
    await response.read()
    modes = sorted(r.mode for r in http.writer.records)
    assert modes == ["http", "oneshot"]


async def _first_bytes_then_hold(http: Http, **body: Any) -> aiohttp.ClientResponse:
    """A streamed answer whose first audio has arrived while the model is held on the
    next segment."""
    model = http.stub.model
    model.delay = 0.05  # a segment takes longer than the holder's look: it holds the third
    text = "First sentence here. " + "Second sentence. " * 5

    async def hold_after_first() -> None:
        while model.calls < 1:
            await asyncio.sleep(0.005)
        model.gate.clear()

    holder = asyncio.create_task(hold_after_first())
    response = await http.speech(input=text, response_format="pcm", **body)
    assert response.status == 200
    assert await asyncio.wait_for(response.content.readany(), 5)
    await holder
    return response


async def _record(http: Http) -> RequestStats:
    for _ in range(500):
        if http.records():
            return http.records()[-1]
        await asyncio.sleep(0.01)
    raise AssertionError("no record")


async def test_shutdown_cancels_what_does_not_end_in_time(http: Http) -> None:
    """A request still speaking when the shutdown's time is up is cancelled by us, and its
    record says why (aiohttp alone waited the time twice and called it the client's)."""
    response = await _first_bytes_then_hold(http)
    await asyncio.wait_for(http.front.shutdown(0.2), 10)
    record = await _record(http)
    assert (record.outcome, record.error) == ("cancelled", "server shutting down")
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()  # cut short, never taken for a whole answer


async def test_a_client_that_leaves_is_no_server_error(
    http: Http, caplog: pytest.LogCaptureFixture
) -> None:
    response = await _first_bytes_then_hold(http)
    response.close()
    await asyncio.sleep(0.05)
    http.stub.model.gate.set()
    record = await _record(http)
    assert record.outcome == "cancelled" and record.error is not None
    assert record.error.startswith("client went away")
    await asyncio.sleep(0.05)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_client_that_leaves_before_any_audio_frees_the_engine_at_once(
    http: Http,
) -> None:
    """Nothing is sent before the first audio, so nothing fails on a write: the request
    must still notice its client is gone and leave the engine (its inference is held
    here; the record comes while it is)."""
    model = http.stub.model
    model.gate.clear()
    asking = asyncio.create_task(http.speech(input=PARAGRAPH, response_format="pcm"))
    while not model.running.is_set():
        await asyncio.sleep(0.005)
    asking.cancel()  # the client gives up: its connection closes
    with contextlib.suppress(asyncio.CancelledError):
        await asking
    record = await _record(http)
    assert record.outcome == "cancelled" and "client went away" in str(record.error)
    assert not model.gate.is_set()  # noticed while the engine was still held


async def test_input_with_nothing_to_speak_is_refused(http: Http) -> None:
    for fmt in ("mp3", "wav"):
        response = await http.speech(input="\U0001f600\U0001f44d", response_format=fmt)
        assert response.status == 400, await response.read()
        error = (await response.json())["error"]
        assert (error["param"], error["code"]) == ("input", "invalid_input")
    assert [r.outcome for r in http.records()] == ["error", "error"]
    # a break alone is silence asked for: audio
    response = await http.speech(
        input='<speak><break time="300ms"/></speak>', response_format="pcm"
    )
    assert response.status == 200 and len(await response.read()) == 2 * 7200


async def test_voice_names_in_any_case_and_openai_names_in_blends(http: Http) -> None:
    for voice, name in [
        ("AF_HEART", "af_heart"),
        ("Am_Adam(1)+BF_EMMA(1)", "am_adam:1+bf_emma:1"),
        ("am_adam(1)+alloy(1)", "am_adam:1+af_heart:1"),  # alloy: the default voice here
    ]:
        response = await http.speech(voice=voice, response_format="pcm")
        assert response.status == 200, (voice, await response.text())
        await response.read()
        assert http.records()[-1].voice == name


async def test_kokoro_fastapi_lang_code_letters(http: Http) -> None:
    for letter, locale in [("b", "en_GB"), ("f", "fr_FR"), ("a", "en_US")]:
        response = await http.speech(voice="af_heart", lang_code=letter, response_format="pcm")
        assert response.status == 200, await response.text()
        await response.read()
        assert http.records()[-1].language == locale
    response = await http.speech(lang_code="q")
    assert response.status == 400 and (await response.json())["error"]["code"] == "invalid_lang"


async def test_stream_must_be_a_boolean(http: Http) -> None:
    for value in ("false", 0, None):
        response = await http.speech(stream=value)
        assert response.status == 400, value
        assert (await response.json())["error"]["param"] == "stream"


async def test_non_streamed_flac_says_its_length(http: Http) -> None:
    response = await http.speech(input=PARAGRAPH, response_format="flac", stream=False)
    body = await response.read()
    (packed,) = struct.unpack(">Q", body[18:26])
    decoded = 0
    with av.open(io.BytesIO(body)) as container:
        decoded = sum(frame.samples for frame in container.decode(audio=0))
        assert packed >> 44 == 24000  # the sample rate beside it is untouched
    assert packed & ((1 << 36) - 1) == decoded > 0


async def test_refusals_say_what_is_allowed_and_when_to_retry(tmp_path: Path) -> None:
    async for running in _start(tmp_path, max_requests=1):
        response = await running.session.get(f"{running.url}/v1/audio/speech")
        assert response.status == 405 and "POST" in response.headers["Allow"]
        held = await _first_bytes_then_hold(running)
        refused = await running.speech(response_format="pcm")
        assert refused.status == 429 and refused.headers["Retry-After"] == "1"
        running.stub.model.gate.set()
        await held.read()


async def test_an_authorization_header_that_is_not_utf8_is_refused(keyed: Http) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", keyed.front.port)
    writer.write(
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xe9\xff\r\n"
        b"Connection: close\r\n\r\n"
    )
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status.split()[1] == b"401"


# --------------------------------------------------------------------------- other routes


async def test_voices_models_health_metrics(http: Http) -> None:
    voices = await (await http.session.get(f"{http.url}/v1/audio/voices")).json()
    assert "af_heart" in voices["voices"] and voices["data"][0]["language"]
    for path in ("/v1/models", "/v1/audio/models"):
        models = await (await http.session.get(http.url + path)).json()
        assert {m["id"] for m in models["data"]} == {"kokoro", "tts-1", "tts-1-hd"}
    health = await http.session.get(f"{http.url}/health")
    assert health.status == 200 and (await health.json())["status"] == "ok"
    await (await http.speech(response_format="pcm")).read()
    await (await http.speech(voice="nobody")).read()
    text = await (await http.session.get(f"{http.url}/metrics")).text()
    assert 'kokoro_requests_total{mode="http",outcome="ok"} 1' in text
    assert 'kokoro_first_audio_seconds_count{mode="http"} 1' in text
    assert 'kokoro_rtf_bucket{mode="http",le="+Inf"} 1' in text
    assert "kokoro_queue_depth 0" in text
    assert 'kokoro_provider_info{provider="StubProvider"} 1' in text
    for line in text.splitlines():  # every sample line: name{labels} value
        if not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            float(value)


async def test_health_says_loading_until_the_model_is_ready(tmp_path: Path) -> None:
    async with stub_server(loaded=False) as stub:
        front = HttpFrontDoor(
            stub.handle, stub.stats, Metrics(), HttpOptions(address="127.0.0.1:0")
        )
        await front.start()
        try:
            async with aiohttp.ClientSession() as session:
                health = await session.get(f"http://127.0.0.1:{front.port}/health")
                assert health.status == 503 and (await health.json())["status"] == "loading"
        finally:
            await front.shutdown(1.0)


async def test_page_and_static_files(http: Http) -> None:
    page = await http.session.get(f"{http.url}/")
    text = await page.text()
    assert page.status == 200 and '<base href="./">' in text
    assert "Access-Control-Allow-Origin" not in page.headers  # no CORS
    assert "http://" not in text and "https://" not in text  # nothing from a CDN
    behind = await (await http.session.get(f"{http.url}/", headers=INGRESS)).text()
    assert '<base href="/api/hassio_ingress/abc123/">' in behind
    hostile = await (
        await http.session.get(f"{http.url}/", headers={"X-Ingress-Path": '/x"><script>'})
    ).text()
    assert "<script>" not in hostile.split("<base", 1)[1].split(">", 1)[0]
    for name in ("app.js", "style.css"):
        assert (await http.session.get(f"{http.url}/static/{name}")).status == 200
    assert (await http.session.get(f"{http.url}/static/..%2Fapp.py")).status == 404


async def test_stats_for_the_page(http: Http) -> None:
    await (await http.speech(response_format="pcm")).read()
    stats = await (await http.session.get(f"{http.url}/api/stats")).json()
    assert stats["figures"]["requests"] == 1 and stats["figures"]["first_audio_ms_p50"] is not None
    assert stats["recent"][0]["mode"] == "http"


# --------------------------------------------------------------------------- access and writes


async def test_the_api_key_guards_the_api(keyed: Http) -> None:
    response = await keyed.speech()
    assert response.status == 401 and (await response.json())["error"]["code"] == "invalid_api_key"
    wrong = {"Authorization": "Bearer nope"}
    assert (await keyed.session.get(f"{keyed.url}/v1/models", headers=wrong)).status == 401
    right = {"Authorization": f"Bearer {KEY}"}
    ok = await keyed.session.post(
        f"{keyed.url}/v1/audio/speech",
        json={"input": "Hi.", "response_format": "pcm"},
        headers=right,
    )
    assert ok.status == 200
    assert (await keyed.session.get(f"{keyed.url}/api/state")).status == 401
    assert (await keyed.session.get(f"{keyed.url}/health")).status == 200  # open, for probes
    assert (await keyed.session.get(f"{keyed.url}/")).status == 200


async def test_writes_need_ingress_or_the_key(http: Http, keyed: Http) -> None:
    blend = {"name": "cozy", "voices": "af_heart:70+am_adam:30"}
    refused = await http.session.post(f"{http.url}/api/voices", json=blend)
    assert refused.status == 403
    # the X-Ingress-Path header alone, from a peer that is not the ingress proxy
    spoofed = await http.session.post(f"{http.url}/api/voices", json=blend, headers=INGRESS)
    assert spoofed.status == 403
    entry = {"lang": "en", "word": "Kokoro", "say": "coco row"}
    assert (await http.session.put(f"{http.url}/api/lexicon", json=entry)).status == 403
    assert not (http.folder / VOICES_FILE).exists()
    right = {"Authorization": f"Bearer {KEY}"}
    saved = await keyed.session.post(f"{keyed.url}/api/voices", json=blend, headers=right)
    assert saved.status == 201
    form = await keyed.session.post(
        f"{keyed.url}/api/voices", data="name=x&voices=af_heart", headers=right
    )
    assert form.status == 415  # never a form: another site's page cannot post one


async def test_saving_a_blend_through_ingress(ingress: Http) -> None:
    url = f"{ingress.url}/api/voices"
    blend = {"name": "cozy", "voices": "af_heart:70+am_adam:30", "speed": 1.1}
    state = await (await ingress.session.get(f"{ingress.url}/api/state", headers=INGRESS)).json()
    assert state["writable"] and state["ingress"]
    saved = await ingress.session.post(url, json=blend, headers=INGRESS)
    assert saved.status == 201, await saved.text()
    assert "cozy" in {v["name"] for v in (await saved.json())["voices"]}
    assert yaml.safe_load((ingress.folder / VOICES_FILE).read_text()) == {
        "cozy": {"af_heart": 70.0, "am_adam": 30.0, "speed": 1.1}
    }
    assert "cozy" in ingress.stub.handle.catalogue  # Info lists it from now on
    response = await ingress.speech(voice="cozy", response_format="pcm")
    assert response.status == 200
    await response.read()
    assert ingress.records()[-1].voice == "cozy"
    again = await ingress.session.post(url, json=blend, headers=INGRESS)
    assert again.status == 409
    for bad in (
        {"name": "../evil", "voices": "af_heart"},
        {"name": "a/b", "voices": "af_heart"},
        {"name": "ok", "voices": "af_heart:70+ghost:30"},
        {"name": "ok", "voices": 5},
    ):
        response = await ingress.session.post(url, json=bad, headers=INGRESS)
        assert response.status == 400, bad
    assert sorted(p.name for p in ingress.folder.iterdir()) == [VOICES_FILE]
    # the next start finds it
    from tests.stub import stub_catalogue

    catalogue = stub_catalogue()
    assert load_saved_voices(catalogue, ingress.folder) == ["cozy"]
    assert catalogue.info("cozy").speed == 1.1


async def test_lexicon_edits_through_ingress(ingress: Http) -> None:
    url = f"{ingress.url}/api/lexicon"
    path = ingress.folder / "lexicon.yaml"
    path.write_text("# mine\nHACS: hacks\nfr:\n  Zigbee: zig bi\n", encoding="utf-8")
    listed = await (await ingress.session.get(url)).json()
    assert {(e["lang"], e["word"]) for e in listed["entries"]} == {("en", "HACS"), ("fr", "Zigbee")}
    for entry in (
        {"lang": "en", "word": "Kokoro", "say": "coco row"},
        {"lang": "en", "word": "it", "phonemes": "ɪt", "case_sensitive": True},
    ):
        response = await ingress.session.put(url, json=entry, headers=INGRESS)
        assert response.status == 200, await response.text()
    deleted = await ingress.session.delete(
        url, json={"lang": "fr", "word": "zigbee"}, headers=INGRESS
    )
    assert deleted.status == 200
    listed = await (await ingress.session.get(url)).json()
    assert {(e["lang"], e["word"]) for e in listed["entries"]} == {
        ("en", "HACS"),
        ("en", "Kokoro"),
        ("en", "it"),
    }
    assert path.with_name("lexicon.yaml.bak").read_text().startswith("# mine")
    from wyoming_kokoro.text.lexicon import parse_lexicon

    entries = parse_lexicon(path.read_text(), "test")
    assert entries["a"]["kokoro"].say == "coco row"
    assert entries["a"]["it"].phonemes == "ɪt" and entries["a"]["it"].case_sensitive
    for bad in (
        {"lang": "xx", "word": "a", "say": "b"},
        {"word": "", "say": "b"},
        {"word": "a", "say": "b", "ipa": "c"},
        {"word": "a\nb", "say": "c"},
    ):
        response = await ingress.session.put(url, json=bad, headers=INGRESS)
        assert response.status == 400, bad
    missing = await ingress.session.delete(url, json={"word": "nothing"}, headers=INGRESS)
    assert missing.status == 404


def test_the_http_setting() -> None:
    from wyoming_kokoro.config import ConfigError, load_settings

    assert load_settings([], {}).settings.http is None  # off by default
    for given, address in [
        ("8880", "0.0.0.0:8880"),
        ("127.0.0.1:8880", "127.0.0.1:8880"),
        (":9000", "0.0.0.0:9000"),
        ("[::]:8880", "[::]:8880"),
        ("off", None),
    ]:
        assert load_settings(["--http", given], {}).settings.http == address
    assert load_settings([], {"KOKORO_HTTP": "8880"}).settings.http == "0.0.0.0:8880"
    with pytest.raises(ConfigError, match="--http"):
        load_settings(["--http", "localhost:port"], {})
