"""TwiML and Africa's Talking voice XML, built from a call's ``Speech``.

Only verbs each provider documents are used. Twilio: ``Gather`` (``input="dtmf"``),
``Play``, ``Say``, ``Record``, ``Redirect``, ``Hangup``, ``Reject``. Africa's
Talking: ``GetDigits``, ``Play``, ``Say``, ``Record``, ``Redirect``, ``Reject``.
A piece with a recording is played; one without is read by the provider's
text-to-speech only in English (neither reads Lao), and otherwise left out.
"""

from __future__ import annotations

from typing import Callable
from xml.sax.saxutils import escape, quoteattr

from gateway.channels.voice.pieces import Speech

HEADER = '<?xml version="1.0" encoding="UTF-8"?>'
GATHER_TIMEOUT_S = 7
RECORD_MAX_S = 15
# Look a recording up: (language, key) -> public URL, or None when there is none.
AudioUrl = Callable[[str, str], "str | None"]


def _sounds(speech: Speech, lang: str, audio_url: AudioUrl, provider: str) -> list[str]:
    out, words = [], []

    def flush():
        if words:
            say = '<Say language="en-US">' if provider == "twilio" else "<Say>"
            out.append(f"{say}{escape(' '.join(words))}</Say>")
            words.clear()

    for piece in speech.pieces:
        url = piece.url if piece.url and piece.url.startswith("http") else (
            audio_url(lang, piece.key) if piece.key else None)
        if url:
            flush()
            out.append(f"<Play>{escape(url)}</Play>" if provider == "twilio" else f"<Play url={quoteattr(url)}/>")
        elif lang == "en" and piece.text.strip():
            text = piece.text.strip()
            if piece.pause and not text.endswith((".", "!", "?", ":")):
                text += "."
            words.append(text)  # consecutive words are read together, as sentences
    flush()
    return out


def twiml(speech: Speech, lang: str, audio_url: AudioUrl, action: str) -> str:
    sounds = "".join(_sounds(speech, lang, audio_url, "twilio"))
    again = f'<Redirect method="POST">{escape(action + _sep(action) + "silent=1")}</Redirect>'
    if speech.record:
        body = (f"{sounds}<Record action={quoteattr(action)} method=\"POST\" maxLength=\"{RECORD_MAX_S}\" "
                f'playBeep="true" finishOnKey="#" timeout="5"/>{again}')
    elif speech.digits == 0:
        body = f"{sounds}<Hangup/>"
    else:
        finish = ' finishOnKey="#"' if speech.digits > 1 else ' finishOnKey=""'
        body = (f'<Gather input="dtmf" numDigits="{speech.digits}" action={quoteattr(action)} method="POST" '
                f'timeout="{GATHER_TIMEOUT_S}"{finish}>{sounds}</Gather>{again}')
    return f"{HEADER}<Response>{body}</Response>"


def at_xml(speech: Speech, lang: str, audio_url: AudioUrl, callback: str) -> str:
    sounds = "".join(_sounds(speech, lang, audio_url, "africastalking"))
    again = f"<Redirect>{escape(callback + _sep(callback) + 'silent=1')}</Redirect>"
    if speech.record:
        body = (f'<Record finishOnKey="#" maxLength="{RECORD_MAX_S}" trimSilence="true" playBeep="true" '
                f"callbackUrl={quoteattr(callback)}>{sounds}</Record>{again}")
    elif speech.digits == 0:
        body = sounds
    else:
        body = (f'<GetDigits timeout="{GATHER_TIMEOUT_S}" finishOnKey="#" numDigits="{speech.digits}" '
                f"callbackUrl={quoteattr(callback)}>{sounds}</GetDigits>{again}")
    return f"{HEADER}<Response>{body}</Response>"


def reject() -> str:
    return f"{HEADER}<Response><Reject/></Response>"


def empty() -> str:
    return f"{HEADER}<Response/>"


def _sep(url: str) -> str:
    return "&" if "?" in url else "?"
