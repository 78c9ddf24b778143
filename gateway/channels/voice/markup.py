"""TwiML and Africa's Talking voice XML, built from a call's ``Speech``.

TwiML is built with the Twilio SDK's ``VoiceResponse``. Africa's Talking has no
builder of its own, so its few verbs are written here, each value escaped.

Only verbs each provider documents are used. Twilio: ``Gather`` (``input="dtmf"``),
``Play``, ``Say``, ``Record``, ``Redirect``, ``Hangup``, ``Reject``. Africa's
Talking: ``GetDigits``, ``Play``, ``Say``, ``Record``, ``Redirect``, ``Reject``.
A piece with a recording is played; one without is read by the provider's
text-to-speech only in English (neither reads Lao). A Lao screen that is not all
recorded falls back to the same screen in English (see ``_sounds``), so a call is
never silent, even on a fresh install with no recordings at all.
"""

from __future__ import annotations

import re
from typing import Callable
from xml.sax.saxutils import escape, quoteattr

from twilio.twiml.voice_response import Gather, VoiceResponse

from gateway.channels.voice.pieces import LIVE, SORRY, Speech

HEADER = '<?xml version="1.0" encoding="UTF-8"?>'
_LAO = re.compile("[\u0e80-\u0eff]+(?:[ \u0e80-\u0eff]*[\u0e80-\u0eff])?")
GATHER_TIMEOUT_S = 7
RECORD_MAX_S = 15
# Look a recording up: (language, key) -> public URL, or None when there is none.
AudioUrl = Callable[[str, str], "str | None"]
# What the caller hears, in order: ("play", url) or ("say", English words).
Sounds = list[tuple[str, str]]


def _sounds(speech: Speech, lang: str, audio_url: AudioUrl, english: Speech | None = None) -> Sounds:
    """What the caller hears. A call is never silent: a screen not recorded in her
    language is played from the same screen in English, recorded if it all is, else
    after her language's short apology (if recorded), read by text-to-speech."""
    if lang == "en" or english is None or _recorded(speech, lang, audio_url):
        return _play(speech, lang, audio_url, english)
    if _recorded(english, "en", audio_url):
        return _play(english, "en", audio_url)
    sorry = audio_url(lang, SORRY)
    return ([("play", sorry)] if sorry else []) + _play(english, "en", audio_url)


def _recorded(speech: Speech, lang: str, audio_url: AudioUrl) -> bool:
    """Every prompt of the screen has a recording in ``lang``. Live text (a session's
    title: ``live.*`` keys, or text with no key) does not count: it is filled in at
    run time, and ``_play`` finds it a voice of its own."""
    return all(
        piece.url
        or not piece.text.strip()
        or piece.key is None
        or piece.key.startswith(LIVE)
        or audio_url(lang, piece.key)
        for piece in speech.pieces
    )


def _play(speech: Speech, lang: str, audio_url: AudioUrl, english: Speech | None = None) -> Sounds:
    out, words = [], []
    # A live text not recorded in her language: its English recording, else its English words.
    english_live = {piece.key: piece for piece in (english.pieces if english else ()) if piece.key}

    def flush():
        # English text-to-speech cannot read Lao script: it would mumble or skip it.
        spoken = " ".join(_LAO.sub(" ", " ".join(words)).split())
        if spoken.strip(" ,.:;/!?-"):
            out.append(("say", spoken))
        words.clear()

    for piece in speech.pieces:
        url = (
            piece.url
            if piece.url and piece.url.startswith("http")
            else (audio_url(lang, piece.key) if piece.key else None)
        )
        spoken_lang = lang
        if url is None and lang != "en" and piece.key and piece.key.startswith(LIVE) and piece.key in english_live:
            piece, spoken_lang = english_live[piece.key], "en"
            url = audio_url("en", piece.key)
        if url:
            flush()
            out.append(("play", url))
        elif spoken_lang == "en" and piece.text.strip():
            text = piece.text.strip()
            if piece.pause and not text.endswith((".", "!", "?", ":")):
                text += "."
            words.append(text)  # consecutive words are read together, as sentences
    flush()
    return out


def twiml(speech: Speech, lang: str, audio_url: AudioUrl, action: str, english: Speech | None = None) -> str:
    response = VoiceResponse()
    again = action + _sep(action) + "silent=1"
    if speech.record or speech.digits == 0:
        _voice(response, _sounds(speech, lang, audio_url, english))
        if speech.record:
            response.record(
                action=action, method="POST", max_length=RECORD_MAX_S, play_beep=True, finish_on_key="#", timeout=5
            )
            response.redirect(again, method="POST")
        else:
            response.hangup()
        return str(response)
    gather = Gather(
        input="dtmf",
        num_digits=speech.digits,
        action=action,
        method="POST",
        timeout=GATHER_TIMEOUT_S,
        finish_on_key="#" if speech.digits > 1 else "",
    )
    _voice(gather, _sounds(speech, lang, audio_url, english))
    response.append(gather)
    response.redirect(again, method="POST")
    return str(response)


def _voice(verb, sounds: Sounds) -> None:
    for kind, value in sounds:
        if kind == "play":
            verb.play(value)
        else:
            verb.say(value, language="en-US")  # Twilio reads no Lao: only English is said


def _at_sounds(sounds: Sounds) -> str:
    return "".join(
        f"<Play url={quoteattr(value)}/>" if kind == "play" else f"<Say>{escape(value)}</Say>" for kind, value in sounds
    )


def at_xml(speech: Speech, lang: str, audio_url: AudioUrl, callback: str, english: Speech | None = None) -> str:
    sounds = _at_sounds(_sounds(speech, lang, audio_url, english))
    again = f"<Redirect>{escape(callback + _sep(callback) + 'silent=1')}</Redirect>"
    if speech.record:
        body = (
            f'<Record finishOnKey="#" maxLength="{RECORD_MAX_S}" trimSilence="true" playBeep="true" '
            f"callbackUrl={quoteattr(callback)}>{sounds}</Record>{again}"
        )
    elif speech.digits == 0:
        body = sounds
    else:
        body = (
            f'<GetDigits timeout="{GATHER_TIMEOUT_S}" finishOnKey="#" numDigits="{speech.digits}" '
            f"callbackUrl={quoteattr(callback)}>{sounds}</GetDigits>{again}"
        )
    return f"{HEADER}<Response>{body}</Response>"


def reject() -> str:
    return f"{HEADER}<Response><Reject/></Response>"


def empty() -> str:
    return f"{HEADER}<Response/>"


def _sep(url: str) -> str:
    return "&" if "?" in url else "?"
