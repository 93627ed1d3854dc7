"""The HTTP front door against the real server and model: the official ``openai`` client,
Wyoming beside it, and the web page in a real browser (Debian's chromium, headless)."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from tests.server import RunningServer, describe, free_port, start_server, stats_records
from wyoming_kokoro.http.encode import FORMATS

pytestmark = pytest.mark.e2e
KEY = "e2e-key"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


class Front:
    def __init__(self, server: RunningServer, port: int, data: Path) -> None:
        self.server, self.port, self.data = server, port, data
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"Bearer {KEY}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def send(self, method: str, path: str, body: object) -> int:
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method=method,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)

    def http_ok(self) -> int:
        text = self.get("/metrics")[1].decode()
        for line in text.splitlines():
            if line.startswith('kokoro_requests_total{mode="http",outcome="ok"}'):
                return int(line.split()[-1])
        return 0

    def records(self, at_least: int = 0) -> list[dict[str, object]]:
        """The stats file's records, once it holds ``at_least`` (its writer is a thread)."""
        deadline = time.monotonic() + 5
        while len(records := self._read()) < at_least and time.monotonic() < deadline:
            time.sleep(0.05)
        return records

    def _read(self) -> list[dict[str, object]]:
        return stats_records(self.server.stats_path)


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, real_assets: tuple[Path, Path]
) -> Iterator[Front]:
    tmp = tmp_path_factory.mktemp("http")
    data = tmp / "data"
    port = free_port()
    server = start_server(
        tmp, "--http", f"127.0.0.1:{port}", "--http-api-key", KEY, "--download-dir", str(data),
        "--lexicon", str(data / "lexicon.yaml"), "--model", str(real_assets[0]),
        "--voices", str(real_assets[1]),
    )  # fmt: skip
    try:
        running = Front(server, port, data)
        deadline = time.monotonic() + 180
        while running.get("/health")[0] != 200:  # the model loads after Describe answers
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.5)
        yield running
    finally:
        server.stop()


def test_every_format_with_the_openai_client(front: Front) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{front.url}/v1", api_key=KEY)
    for fmt in FORMATS:
        response = client.audio.speech.create(
            model="tts-1", voice="af_bella(2)+af_sky(1)", input="The kitchen lights are on.",
            response_format=fmt,  # type: ignore[arg-type]
        )  # fmt: skip
        body = response.content
        if fmt == "pcm":
            seconds = len(body) / 2 / 24000
        else:
            with av.open(io.BytesIO(body)) as container:
                stream = container.streams.audio[0]
                samples = sum(frame.samples for frame in container.decode(audio=0))
                seconds = samples / stream.sample_rate
        assert 1.0 < seconds < 5.0, (fmt, seconds)
    records = [r for r in front.records(len(FORMATS)) if r["mode"] == "http"]
    assert len(records) >= len(FORMATS)
    assert all(r["voice"] == "af_bella:2+af_sky:1" for r in records[-len(FORMATS) :])


def test_streaming_yields_bytes_before_the_end(front: Front) -> None:
    """The first bytes arrive while the request is still being made: its stats record
    (written once the whole answer is out) does not exist yet, as /metrics shows."""
    from openai import OpenAI

    client = OpenAI(base_url=f"{front.url}/v1", api_key=KEY)
    text = " ".join(
        ["Good evening. The living room lights are on, and the front door is locked."] * 4
    )
    before = front.http_ok()
    chunks = []
    with client.audio.speech.with_streaming_response.create(
        model="kokoro", voice="af_heart", input=text, response_format="mp3"
    ) as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        stream = response.iter_bytes()
        chunks.append(next(stream))
        during = front.http_ok()
        chunks.extend(stream)
    assert chunks[0] and during == before
    assert front.http_ok() == before + 1
    with av.open(io.BytesIO(b"".join(chunks))) as container:
        assert sum(f.samples for f in container.decode(audio=0)) > 24000 * 8


def test_saved_voice_reaches_wyoming_info_and_lexicon_reaches_speech(front: Front) -> None:
    assert (
        front.send("POST", "/api/voices", {"name": "e2e_cozy", "voices": "af_heart:70+af_bella:30"})
        == 201
    )
    info = asyncio.run(describe(front.server))
    assert "e2e_cozy" in {voice.name for voice in info.tts[0].voices}
    assert (
        front.send("PUT", "/api/lexicon", {"lang": "en", "word": "Zorblax", "say": "zor blacks"})
        == 200
    )
    time.sleep(1.2)  # the lexicon file is looked at once a second
    count = len(front.records())
    request = {"input": "Zorblax is here.", "voice": "e2e_cozy", "response_format": "pcm"}
    urllib.request.urlopen(
        urllib.request.Request(
            front.url + "/v1/audio/speech", data=json.dumps(request).encode(),
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        ), timeout=60,
    ).read()  # fmt: skip
    record = front.records(count + 1)[-1]
    assert record["voice"] == "e2e_cozy" and record["lexicon_entries"] == 1


@pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)
def test_the_page_in_a_browser(front: Front) -> None:
    """Load the page, pick a voice, play it (the streamed audio is scheduled; Stop stops
    what is still to be heard), save a blend."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--autoplay-policy=no-user-gesture-required", "--disable-gpu"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        wait = WebDriverWait(driver, 90)
        driver.get(front.url + "/")
        driver.execute_script("localStorage.setItem('kokoro-api-key', arguments[0])", KEY)
        driver.get(front.url + "/")
        wait.until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready"
        )
        Select(driver.find_element(By.ID, "voice")).select_by_value("bf_emma")
        text = driver.find_element(By.ID, "text")
        text.clear()
        text.send_keys(
            "Hello from the browser. This reply goes on for a few sentences, so that it is"
            " still playing when all of its audio has arrived. Stop must still stop it then."
        )
        count = len(front.records())
        driver.find_element(By.ID, "play").click()
        state = lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state")  # noqa: E731
        wait.until(lambda d: state(d) in ("played", "error"))
        assert state(driver) == "played", driver.find_element(By.ID, "status").text
        played = driver.execute_script("return window.kokoro.played")
        assert played > 24000  # over a second of audio scheduled for playback
        assert front.records(count + 1)[-1]["voice"] == "bf_emma"
        # all of it has arrived, and much of it is still to be heard: Stop still works
        stop = driver.find_element(By.ID, "stop")
        assert stop.is_enabled() and driver.execute_script("return window.kokoro.audio !== null")
        stop.click()
        assert not stop.is_enabled()
        assert driver.execute_script("return window.kokoro.audio === null")
        # mix and save a blend
        driver.find_element(By.CSS_SELECTOR, "#blend-box summary").click()
        driver.find_element(By.ID, "blend-name").send_keys("browser_blend")
        driver.find_element(By.ID, "blend-save").click()
        wait.until(
            lambda d: (
                state(d) in ("saved", "error")
                or "Not saved" in d.find_element(By.ID, "status").text
            )
        )
        assert state(driver) == "saved", driver.find_element(By.ID, "status").text
        assert (
            Select(driver.find_element(By.ID, "voice")).first_selected_option.get_attribute("value")
            == "browser_blend"
        )
    finally:
        driver.quit()
    saved = (front.data / "custom_voices.yaml").read_text()
    assert "browser_blend" in saved
