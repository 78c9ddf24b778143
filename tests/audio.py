"""Generated audio for the voice tests: a tone between silences, in the formats
browsers, phones and voice artists send (encoded by PyAV, as the gateway decodes)."""

from __future__ import annotations

import io
import math
import wave
from array import array

import av


def tone(seconds: float, rate: int, level: float = 0.3, frequency: float = 440.0) -> array:
    return array(
        "h", (round(level * 32767 * math.sin(2 * math.pi * frequency * n / rate)) for n in range(round(seconds * rate)))
    )


def samples(
    before: float = 1.0, voice: float = 1.0, after: float = 1.0, rate: int = 44100, level: float = 0.3
) -> array:
    return array("h", [0] * round(before * rate)) + tone(voice, rate, level) + array("h", [0] * round(after * rate))


def wav(sound: array | None = None, rate: int = 44100, channels: int = 1) -> bytes:
    sound = samples(rate=rate) if sound is None else sound
    if channels == 2:
        sound = array("h", (s for pair in zip(sound, sound) for s in pair))
    out = io.BytesIO()
    with wave.open(out, "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(sound.tobytes())
    return out.getvalue()


def encoded(container: str, codec: str, sound: array | None = None, rate: int = 48000) -> bytes:
    """``sound`` encoded as a browser (webm/opus, ogg/opus) or an artist (mp3) would."""
    sound = samples(rate=rate) if sound is None else sound
    out = io.BytesIO()
    with av.open(out, "w", format=container) as target:
        stream = target.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame_size = 960
        for start in range(0, len(sound), frame_size):
            chunk = sound[start : start + frame_size]
            if len(chunk) < frame_size:
                chunk = chunk + array("h", [0] * (frame_size - len(chunk)))
            frame = av.AudioFrame(format="s16", layout="mono", samples=frame_size)
            frame.planes[0].update(chunk.tobytes())
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return out.getvalue()
