"""Recordings made playable on a phone call: any audio in, 8 kHz mono WAV out.

In: what a browser records (WebM or Ogg with Opus), a phone's or a studio's WAV, an
MP3 or M4A from a voice artist. Out: 16-bit PCM WAV at 8 kHz, mono, which both
Twilio and Africa's Talking play, and which is what the phone network carries
anyway (so nothing audible is lost). On the way, silence before and after the voice
is trimmed (a quarter-second kept) and the loudness is evened out, so every prompt
of a call sounds equally loud.

PyAV's wheels bring their own FFmpeg, so a fresh machine needs no system ffmpeg.
Sample work is done with the standard library's ``array`` (no numpy).
"""

from __future__ import annotations

import io
import math
import wave
from array import array
from dataclasses import dataclass

from gateway.errors import InputProblem

RATE = 8000
MAX_SECONDS = 60  # a prompt or a live text; longer is a mistake (a forgotten recorder)
RAW_LIMIT_SECONDS = 600  # decoded audio beyond this is not even read
FRAME = RATE // 50  # 20 ms: loudness is judged per frame, not per sample (a click is not voice)
SILENCE_RMS = 0.008 * 32767  # about -42 dBFS: below this a frame is silence (a phone line's hiss is lower)
PAD = RATE // 4  # keep a quarter-second around the voice
TARGET_RMS = 0.1 * 32767  # about -20 dBFS for the voiced part
PEAK_LIMIT = 0.89 * 32767  # about -1 dBFS: the gain never pushes a peak past this


@dataclass(frozen=True)
class Clip:
    wav: bytes
    seconds: float


def convert(data: bytes, max_seconds: int = MAX_SECONDS) -> Clip:
    """``data`` (any audio) as a normalised 8 kHz mono WAV; InputProblem says why not."""
    if not data:
        raise InputProblem("the file is empty")
    samples = _decode(data)
    first, last = _voice_bounds(samples)
    if first is None:
        raise InputProblem("only silence: nothing was recorded")
    samples = samples[max(0, first - PAD) : min(len(samples), last + PAD)]
    seconds = len(samples) / RATE
    if seconds > max_seconds:
        raise InputProblem(
            "too long: %(seconds)s s; keep it under %(most)s s", seconds=round(seconds), most=max_seconds
        )
    return Clip(_wav(_even_out(samples)), round(seconds, 2))


def _decode(data: bytes) -> array:
    # Imported here, not at the top: FFmpeg's libraries are tens of MB in every web
    # process, and only the studio's upload and the recording job ever need them.
    import av

    unreadable = InputProblem("not an audio file we can read (use WAV, MP3, OGG, WebM or M4A)")
    try:
        container = av.open(io.BytesIO(data))
    except (av.error.FFmpegError, ValueError, OSError):
        raise unreadable from None
    with container:
        if not container.streams.audio:
            raise unreadable
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        out = array("h")
        try:
            for frame in container.decode(container.streams.audio[0]):
                for piece in resampler.resample(frame):
                    out.frombytes(bytes(piece.planes[0])[: piece.samples * 2])
                if len(out) > RAW_LIMIT_SECONDS * RATE:
                    raise InputProblem(
                        "too long: %(seconds)s s; keep it under %(most)s s", seconds=RAW_LIMIT_SECONDS, most=MAX_SECONDS
                    )
            for piece in resampler.resample(None):
                out.frombytes(bytes(piece.planes[0])[: piece.samples * 2])
        except (av.error.FFmpegError, ValueError):
            raise unreadable from None
    return out


def _rms(samples: array, start: int, end: int) -> float:
    count = max(1, end - start)
    return math.sqrt(sum(s * s for s in samples[start:end]) / count)


def _voice_bounds(samples: array) -> tuple[int | None, int]:
    """First and last sample of the frames louder than silence."""
    voiced = [start for start in range(0, len(samples), FRAME) if _rms(samples, start, start + FRAME) > SILENCE_RMS]
    if not voiced:
        return None, 0
    return voiced[0], min(len(samples), voiced[-1] + FRAME)


def _even_out(samples: array) -> array:
    """Scale so the voiced frames sit near TARGET_RMS, never past PEAK_LIMIT."""
    frames = [_rms(samples, start, start + FRAME) for start in range(0, len(samples), FRAME)]
    voiced = [value for value in frames if value > SILENCE_RMS] or frames
    loudness = math.sqrt(sum(v * v for v in voiced) / len(voiced))
    peak = max((abs(s) for s in samples), default=0)
    if loudness <= 0 or peak <= 0:
        return samples
    gain = min(TARGET_RMS / loudness, PEAK_LIMIT / peak)
    return array("h", (max(-32768, min(32767, round(s * gain))) for s in samples))


def _wav(samples: array) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(samples.tobytes())
    return out.getvalue()
