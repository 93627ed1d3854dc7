"""Where a segment's frames are cut into parts that the vocoder renders in turn.

A segment's first audio comes after its first part is made; each later part must be made
before the audio before it has played out. These functions decide the cuts from the
measured vocoder speed (engine/split.py renders them, carrying the vocoder's state from
one part to the next: engine/carry.py).
"""

from __future__ import annotations

import math

import numpy as np

SAMPLES_PER_FRAME = 600  # one duration unit of Kokoro at 24 kHz (25 ms)
FRAME_S = SAMPLES_PER_FRAME / 24000


# Frames a later part starts early, and a part goes on past its end (not heard): more than
# the generator's reach (its widest convolutions, kernel 11 at dilations 1, 3 and 5 at 20
# steps per frame, see ~3 frames to either side; the frame-rate half runs whole and has no
# edge here). With the state carried, 4 and 8 frames gave the same log-mel distance to the
# whole rendering within 0.1-0.2 dB (8 replies, a cut at 40 frames: means 1.38 and
# 1.36 dB), so it is 5, and each cut costs 10 frames.
LEFT_CONTEXT = 5
RIGHT_CONTEXT = 5
CROSSFADE = 240  # samples (10 ms)
SAFETY = 1.4  # the rest must be ready with this margin on the measured vocoder speed
MARGIN_S = 0.1  # and this much earlier than the head runs out
MIN_GAIN = 0.15  # split only when the first part saves at least this share of the frames
# At most this many parts are planned for a segment (MAX_PART may add more): a short
# opening, then parts each as long as the audio before it pays for. Every cut costs its
# overlap and a little fidelity (the parts after the first carry the statistics of those
# before, not of the frames after them: engine/carry.py).
MAX_PARTS = 6
# A segment's first part renders at least this many frames (2.6 s, its overlap and the
# leading pad included): it normalizes over its own frames (it cannot know those after
# it), and the shorter it is, the further its words are from the whole rendering's, and
# the worse speech recognition hears a command's opening words. 104 is the shortest floor
# measured at which each reply of benchmarks/fidelity.py is within 1.5 dB log-mel of
# Kokoro's own rendering, for ~0.1 s more first speech than at 80 on a reply long enough
# to be cut (shorter ones are made in one part: the export's audio). The curve from 48
# frames up is in the README ("A segment in parts") and benchmarks/results.json.
MIN_FIRST = 104
# No part renders more than about this many frames (7 s of audio): the vocoder's time per
# frame grows with the frames it renders at once (its activations outgrow the CPU's
# caches: here 4.4 ms per frame for 32-64 frames, 5.2 for 240, 6.4 for 749), so a
# paragraph in parts of at most 240 frames took 0.87x the time of the same plan with its
# rest in one part, its overlaps included (two paragraphs, 18.7 and 19.4 s of audio:
# 4.24-4.45 s against 4.89-5.06 s; parts of 160 frames gained no more). A little above
# 240: a rest of up to 7 s needs no further cut (each cut costs overlap and fidelity).
MAX_PART = 280
# No later part, and no rest after a cut, is shorter than this (frames, 0.8 s): a part
# that short only rounds a plan, and costs its overlaps (10 frames) for little audio.
MIN_PART = 32


def plan_parts(
    durations: np.ndarray,
    word_ends: list[int],
    seconds_per_frame: float,
    available_s: float | None = None,
) -> list[int]:
    """Where to cut a segment's frames into parts vocoded in turn; [] for one part.

    ``durations`` are the frames of each token (the pads included); ``word_ends`` the
    indices of tokens after which a word ends: every cut falls on such a boundary.
    ``available_s``: how long the audio made before this segment still plays (None:
    nothing is playing, the listener waits for this segment's first part).

    Each part is planned on the measured vocoder speed (times ``SAFETY``) so that it is
    made before the audio before it runs out: the first part as short as lets the parts
    after it keep up (each part's playing time pays for the next part's rendering and its
    overlap), a later one as long as is still in time. No cut at all when the whole is in
    time, when it is too short to gain, or on a machine too slow for parts to keep up.
    """
    total = int(durations.sum())
    lead = int(durations[0]) if len(durations) else 0
    per_frame = SAFETY * seconds_per_frame
    if total <= 0 or per_frame <= 0:
        return []
    overlap = LEFT_CONTEXT + RIGHT_CONTEXT
    rate = FRAME_S / per_frame  # frames played per frame rendered
    if rate <= 1.2:
        return []  # parts could not keep up: their overlaps would cost more than they gain
    if available_s is not None and per_frame * total + MARGIN_S <= available_s:
        return []
    # The smallest part whose playing time pays for a next part larger than itself.
    smallest = math.ceil((overlap + MARGIN_S / per_frame) / (rate - 1)) + 2
    ends = sorted({int(e) for e in np.cumsum(durations)[word_ends]} - {0, total})
    cuts: list[int] = []
    clock = 0.0  # rendering time spent so far
    plays_until = available_s  # when the audio made so far has played (None: not begun)
    pos = 0
    while True:
        left = 0 if not cuts else LEFT_CONTEXT
        spoken_from = max(pos, lead) if not cuts else pos  # the leading pad is not heard
        finish = clock + per_frame * (total - pos + left)
        if plays_until is not None and finish + MARGIN_S <= plays_until:
            break  # the rest is in time as one part
        candidates = [
            e
            for e in ends
            if e > spoken_from
            and total - e >= max(LEFT_CONTEXT, MIN_PART)
            and (e - pos >= MIN_PART if cuts else e - pos + RIGHT_CONTEXT >= MIN_FIRST)
        ]
        if not candidates or len(cuts) >= MAX_PARTS - 1:
            break
        # This cut leaves the rest as the last part: it must pay for all of the rest.
        last = len(cuts) >= MAX_PARTS - 2
        if plays_until is None:
            # The listener waits: the first part as short as can be, yet long enough to
            # pay for the rest as one part, or for a next part larger than itself.
            cut = 0
            for end in candidates:
                made = clock + per_frame * (end - pos + left + RIGHT_CONTEXT)
                heard = made + (end - spoken_from) * FRAME_S
                rest = made + per_frame * (total - end + LEFT_CONTEXT)
                if (not last and end - spoken_from >= smallest) or rest + MARGIN_S <= heard:
                    cut = end
                    break
            if not cut:
                break
        else:
            budget = plays_until - MARGIN_S - clock
            fits = [e for e in candidates if per_frame * (e - pos + left + RIGHT_CONTEXT) <= budget]
            cut = fits[-1] if fits else candidates[0]  # late anyway: be late by the least
        clock += per_frame * (cut - pos + left + RIGHT_CONTEXT)
        start = clock if plays_until is None else max(clock, plays_until)
        plays_until = start + (cut - spoken_from) * FRAME_S
        cuts.append(cut)
        pos = cut
    if cuts and cuts[0] + RIGHT_CONTEXT > total * (1 - MIN_GAIN):
        return []  # the first part would be nearly all of it
    return cuts


def bound_parts(
    cuts: list[int],
    durations: np.ndarray,
    word_ends: list[int],
    max_frames: int,
) -> list[int]:
    """``cuts`` with more cuts added so that no part is longer than about ``max_frames``
    (at word ends, a long part cut into pieces of about equal length; the first part at
    least ``MIN_FIRST`` frames, no part or rest below ``MIN_PART``; where no word ends
    within the bound, at the one nearest it): for a vocoder that is faster per frame on
    fewer frames, and for an engine shared by several requests, where a part is the
    longest a new request may have to wait (see engine/scheduler.py)."""
    total = int(durations.sum())
    ends = sorted({int(e) for e in np.cumsum(durations)[word_ends]} - {0, total})
    bounded: list[int] = []
    pos = 0
    for stop in [*cuts, total]:
        while stop - pos > max_frames:
            floor = MIN_FIRST - RIGHT_CONTEXT if pos == 0 else MIN_PART
            allowed = [e for e in ends if e >= pos + floor and stop - e >= MIN_PART]
            if not allowed:
                break  # a little over
            target = pos + (stop - pos) / math.ceil((stop - pos) / max_frames)
            cut = min(allowed, key=lambda e: (e > pos + max_frames, abs(e - target)))
            bounded.append(cut)
            pos = cut
        if stop != total:
            bounded.append(stop)
        pos = stop
    return bounded
