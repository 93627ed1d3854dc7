// The Kokoro web page: speak with any voice or blend, save blends, edit the lexicon,
// watch the figures. Plain JavaScript, no build step; every URL is relative, so the
// page works at / and behind Home Assistant's ingress (see <base> in index.html).
"use strict";

const RATE = 24000;
const $ = (id) => document.getElementById(id);
const page = {
  state: null,
  audio: null, // AudioContext
  controller: null, // AbortController of the request playing
  pcm: [], // Int16Array pieces of the last audio, for the wav download
  last: null, // the last request spoken ({text, voice, speed}), for the other downloads
  ends: null, // timer: playback of the last audio ends (Stop stays on until then)
  played: 0, // samples scheduled for playback (read by tests)
  firstAudioMs: null,
};
window.kokoro = page;

function setState(state) { document.body.dataset.state = state; }

function status(text, error = false) {
  const line = $("status");
  line.textContent = text;
  line.className = error ? "error" : "";
}

function headers(json = true) {
  const result = json ? { "Content-Type": "application/json" } : {};
  const key = $("api-key").value || localStorage.getItem("kokoro-api-key");
  if (key) result.Authorization = "Bearer " + key;
  return result;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.body !== undefined) });
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error.message; } catch (_) { /* not JSON */ }
    if (response.status === 401) $("key-row").hidden = false;
    throw new Error(message);
  }
  return response;
}

// ---------------------------------------------------------------- voices and blends

function voiceOptions(select, voices, selected) {
  select.replaceChildren();
  const groups = new Map();
  for (const voice of voices) {
    const label = voice.custom ? "Custom voices" : voice.language_name;
    if (!groups.has(label)) groups.set(label, []);
    groups.get(label).push(voice);
  }
  for (const [label, list] of groups) {
    const group = document.createElement("optgroup");
    group.label = label;
    for (const voice of list) {
      const option = new Option(voice.custom ? voice.name : `${voice.name} (${voice.gender})`, voice.name);
      option.title = voice.description;
      group.append(option);
    }
    select.append(group);
  }
  if (selected) select.value = selected;
}

function addBlendPart(name, weight) {
  const part = document.createElement("div");
  part.className = "blend-part";
  const select = document.createElement("select");
  voiceOptions(select, page.state.voices.filter((v) => !v.custom), name);
  const slider = Object.assign(document.createElement("input"), { type: "range", min: 0, max: 100, value: weight });
  const value = document.createElement("output");
  const remove = Object.assign(document.createElement("button"), { type: "button", textContent: "×", className: "plain" });
  const update = () => { value.textContent = slider.value; showBlend(); };
  slider.addEventListener("input", update);
  select.addEventListener("change", update);
  remove.addEventListener("click", () => { part.remove(); showBlend(); });
  part.append(select, slider, value, remove);
  $("blend").append(part);
  update();
}

function blendSpec() {
  const parts = [...document.querySelectorAll(".blend-part")]
    .map((part) => [part.querySelector("select").value, Number(part.querySelector("input").value)])
    .filter(([, weight]) => weight > 0);
  return parts.length ? parts.map(([name, weight]) => `${name}:${weight}`).join("+") : null;
}

function showBlend() {
  const spec = blendSpec();
  $("blend-spec").textContent = spec ? `Speaking with the blend ${spec}` : "";
}

function chosenVoice() {
  return ($("blend-box").open && blendSpec()) || $("voice").value;
}

async function saveBlend() {
  const spec = blendSpec();
  if (!spec) return status("Give at least one voice a weight above zero.", true);
  const name = $("blend-name").value.trim();
  try {
    const response = await api("api/voices", {
      method: "POST",
      body: JSON.stringify({ name, voices: spec, speed: Number($("speed").value) }),
    });
    const saved = await response.json();
    page.state.voices = saved.voices;
    voiceOptions($("voice"), saved.voices, saved.name);
    $("blend-box").open = false;
    status(`Saved ${saved.name}: Home Assistant lists it from its next look at the voices.`);
    setState("saved");
  } catch (err) {
    status(`Not saved: ${err.message}`, true);
  }
}

// ---------------------------------------------------------------- speaking

function stop() {
  if (page.controller) page.controller.abort();
  page.controller = null;
  clearTimeout(page.ends);
  if (page.audio) { page.audio.close(); page.audio = null; }
  $("stop").disabled = true;
  $("play").disabled = false;
}

// The answer has all arrived; what was scheduled may play on for a while: Stop stays
// usable until it has.
function playsOut(audio, when) {
  const left = when - audio.currentTime;
  if (page.audio !== audio || left <= 0) { $("stop").disabled = true; return; }
  page.ends = setTimeout(() => { if (page.audio === audio) $("stop").disabled = true; }, left * 1000);
}

async function speak(text, voice) {
  stop();
  const audio = new AudioContext({ sampleRate: RATE });
  page.audio = audio;
  page.controller = new AbortController();
  page.pcm = [];
  page.played = 0;
  page.firstAudioMs = null;
  const speed = Number($("speed").value);
  page.last = { text, voice, speed };
  $("play").disabled = true;
  $("stop").disabled = false;
  $("download").disabled = true;
  setState("speaking");
  status("Speaking…");
  const started = performance.now();
  let when = 0;
  let carry = null; // an odd byte left over between network chunks
  try {
    const response = await api("v1/audio/speech", {
      method: "POST",
      body: JSON.stringify({ model: "kokoro", input: text, voice, response_format: "pcm", speed }),
      signal: page.controller.signal,
    });
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let bytes = value;
      if (carry) { bytes = new Uint8Array([carry, ...value]); carry = null; }
      if (bytes.length % 2) { carry = bytes[bytes.length - 1]; bytes = bytes.subarray(0, bytes.length - 1); }
      if (!bytes.length) continue;
      const samples = new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      page.pcm.push(samples);
      if (page.firstAudioMs === null) {
        page.firstAudioMs = Math.round(performance.now() - started);
        status(`Speaking… first audio after ${page.firstAudioMs} ms`);
      }
      const buffer = audio.createBuffer(1, samples.length, RATE);
      const channel = buffer.getChannelData(0);
      for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
      const source = audio.createBufferSource();
      source.buffer = buffer;
      source.connect(audio.destination);
      when = Math.max(when, audio.currentTime + 0.05);
      source.start(when);
      when += buffer.duration;
      page.played += samples.length;
    }
    const seconds = page.played / RATE;
    status(`Done: ${seconds.toFixed(1)} s of audio, first audio after ${page.firstAudioMs} ms.`);
    $("download").disabled = page.played === 0;
    setState("played");
  } catch (err) {
    if (err.name !== "AbortError") { status(`Failed: ${err.message}`, true); setState("error"); }
  } finally {
    page.controller = null;
    $("play").disabled = false;
    playsOut(audio, when);
    refreshFigures();
  }
}

function wavBlob(pieces) {
  const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset, value) => [...value].forEach((c, i) => header.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); header.setUint32(4, 36 + length * 2, true); text(8, "WAVEfmt ");
  header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true);
  header.setUint32(24, RATE, true); header.setUint32(28, RATE * 2, true);
  header.setUint16(32, 2, true); header.setUint16(34, 16, true);
  text(36, "data"); header.setUint32(40, length * 2, true);
  return new Blob([header, ...pieces], { type: "audio/wav" });
}

async function download() {
  const format = $("download-format").value;
  let blob;
  try {
    if (format === "wav") {
      blob = wavBlob(page.pcm);
    } else { // the last audio played, made again in this format
      const { text, voice, speed } = page.last;
      const response = await api("v1/audio/speech", {
        method: "POST",
        body: JSON.stringify({ model: "kokoro", input: text, voice, response_format: format, speed, stream: false }),
      });
      blob = await response.blob();
    }
  } catch (err) {
    return status(`Download failed: ${err.message}`, true);
  }
  const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: `kokoro.${format}` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// ---------------------------------------------------------------- the lexicon

function saidAs(entry) {
  if (entry.say) return entry.say;
  if (entry.ipa) return `/${entry.ipa}/ (IPA)`;
  return `/${entry.phonemes}/`;
}

async function loadLexicon() {
  try {
    const lexicon = await (await api("api/lexicon")).json();
    $("lexicon-file").textContent = lexicon.file ? `Your lexicon file: ${lexicon.file} (the built-in smart-home entries come first; yours win).` : "No lexicon file.";
    const rows = lexicon.entries.map((entry) => {
      const row = document.createElement("tr");
      const cells = [entry.lang, entry.word, saidAs(entry)].map((text) => Object.assign(document.createElement("td"), { textContent: text }));
      const actions = document.createElement("td");
      const say = Object.assign(document.createElement("button"), { type: "button", textContent: "Say it", className: "plain" });
      say.addEventListener("click", () => speak(entry.word, chosenVoice()));
      const edit = Object.assign(document.createElement("button"), { type: "button", textContent: "Edit", className: "plain" });
      edit.addEventListener("click", () => {
        $("lex-lang").value = entry.lang; $("lex-word").value = entry.word;
        const kind = entry.say ? "say" : entry.ipa ? "ipa" : "phonemes";
        $("lex-kind").value = kind; $("lex-value").value = entry[kind]; $("lex-case").checked = entry.case_sensitive;
      });
      const remove = Object.assign(document.createElement("button"), { type: "button", textContent: "Delete", className: "plain" });
      remove.addEventListener("click", () => changeLexicon("DELETE", { lang: entry.lang, word: entry.word }));
      actions.append(say, edit, remove);
      row.append(...cells, actions);
      return row;
    });
    $("lex-rows").replaceChildren(...rows);
  } catch (err) {
    $("lexicon-file").textContent = `Lexicon: ${err.message}`;
  }
}

async function changeLexicon(method, body) {
  try {
    await api("api/lexicon", { method, body: JSON.stringify(body) });
    status(method === "DELETE" ? `Removed ${body.word}.` : `Saved ${body.word}: used from the next sentence.`);
    await loadLexicon();
  } catch (err) {
    status(`Lexicon not changed: ${err.message}`, true);
  }
}

// ---------------------------------------------------------------- figures

async function refreshFigures() {
  try {
    const stats = await (await api("api/stats")).json();
    const f = stats.figures;
    const ms = (v) => (v === null ? "–" : `${Math.round(v)} ms`);
    const rtf = (v) => (v === null ? "–" : v.toFixed(2));
    $("figure-line").textContent = `Last ${f.requests} requests: first audio p50 ${ms(f.first_audio_ms_p50)}, p95 ${ms(f.first_audio_ms_p95)}; RTF p50 ${rtf(f.rtf_p50)}, p95 ${rtf(f.rtf_p95)}.`;
    $("recent").replaceChildren(...stats.recent.map((r) => {
      const row = document.createElement("tr");
      const time = new Date(r.time.replace(/\.\d+/, "")).toLocaleTimeString([], { hour12: false });
      for (const text of [time, r.mode, r.voice.replaceAll("+", "+\u200b"), ms(r.first_audio_ms), rtf(r.rtf), r.outcome]) {
        row.append(Object.assign(document.createElement("td"), { textContent: text }));
      }
      return row;
    }));
  } catch (err) {
    $("figure-line").textContent = `Figures: ${err.message}`;
  }
}

// ---------------------------------------------------------------- start

async function start() {
  $("api-key").value = localStorage.getItem("kokoro-api-key") || "";
  $("api-key").addEventListener("change", () => { localStorage.setItem("kokoro-api-key", $("api-key").value); init(); });
  $("speed").addEventListener("input", () => { $("speed-value").textContent = Number($("speed").value).toFixed(2); });
  $("play").addEventListener("click", () => speak($("text").value, chosenVoice()));
  $("stop").addEventListener("click", () => { stop(); status("Stopped."); });
  $("download").addEventListener("click", download);
  $("blend-add").addEventListener("click", () => addBlendPart($("voice").value, 50));
  $("blend-save").addEventListener("click", saveBlend);
  $("blend-box").addEventListener("toggle", showBlend);
  $("lexicon-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const kind = $("lex-kind").value;
    changeLexicon("PUT", { lang: $("lex-lang").value, word: $("lex-word").value, [kind]: $("lex-value").value, case_sensitive: $("lex-case").checked });
  });
  $("lex-say").addEventListener("click", () => $("lex-word").value && speak($("lex-word").value, chosenVoice()));
  await init();
  setInterval(refreshFigures, 5000);
}

async function init() {
  try {
    page.state = await (await api("api/state")).json();
  } catch (err) {
    return status(`The server did not answer: ${err.message}`, true);
  }
  const state = page.state;
  $("server").textContent = `v${state.version} · ${state.voices.length} voices · ${state.ready ? state.provider : "model loading…"}`;
  $("key-row").hidden = !state.key_required || state.ingress;
  voiceOptions($("voice"), state.voices, state.default_voice);
  $("speed").value = state.speed;
  $("speed-value").textContent = Number(state.speed).toFixed(2);
  $("text").maxLength = state.max_text_chars;
  $("lex-lang").replaceChildren(...["en", "en-us", "en-gb", "es", "fr", "hi", "it", "ja", "pt", "zh", "all"].map((l) => new Option(l)));
  if ($("blend").children.length === 0) { addBlendPart("af_heart", 70); addBlendPart("af_bella", 30); }
  for (const id of ["blend-save", "lex-save"]) {
    $(id).disabled = !state.writable;
    $(id).title = state.writable ? "" : "Changes are allowed through Home Assistant (ingress) or with the API key";
  }
  setState("ready");
  loadLexicon();
  refreshFigures();
}

start();
