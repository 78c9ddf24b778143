"""Lao voice that is never silent: converting recordings, the prompt studio page,
recording by phone over Twilio and Africa's Talking, live texts, moving recordings
between installs, and a whole Lao call through both providers' XML. All audio is
generated (``tests/audio.py``); providers' recording URLs are a local server."""

from __future__ import annotations

import io
import re
import wave
import zipfile
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import delete, select

from gateway.content.audio import convert
from gateway.content.prompt_audit import audit
from gateway.errors import InputProblem
from gateway.runtime import runtime_of
from gateway.store import live_texts
from gateway.store.models import AuditEvent, Recording

from .audio import encoded, samples, tone, wav
from .fakes import FakeTwilio, drain
from .helpers import switch_language, add_member, add_session, form_token
from .helpers import PASSWORD, wait_until
from .test_voice import AT_VERBS, TWILIO_VERBS, AtCall, TwilioCall, parse, recorded_prompts  # noqa: F401

BASE = "https://gw.example.org"
PIN = "246810"


def signed_in(app, email="noy@ngo.la"):
    client = app.test_client()
    client.post(
        "/login",
        data={"csrf": form_token(client.get("/login").data), "email": email, "password": PASSWORD, "next": "/"},
    )
    client.csrf = form_token(client.get("/").data)
    return client


def upload(client, lang, key, data, name="take.webm", json_reply=True):
    headers = {"Accept": "application/json"} if json_reply else {}
    return client.post(
        f"/prompts/{lang}/{key}",
        data={"csrf": client.csrf, "audio": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        headers=headers,
    )


def wav_facts(data: bytes) -> tuple[int, int, int, float]:
    with wave.open(io.BytesIO(data)) as handle:
        frames = handle.readframes(handle.getnframes())
        peak = max(abs(int.from_bytes(frames[i : i + 2], "little", signed=True)) for i in range(0, len(frames), 2))
        return handle.getframerate(), handle.getnchannels(), handle.getsampwidth(), peak / 32767


# ------------------------------------------------------------------ conversion


@pytest.mark.parametrize("kind", ["wav 44.1 kHz stereo", "webm/opus (a browser)", "ogg/opus", "mp3"])
def test_any_audio_becomes_8khz_mono_wav_trimmed_and_evened_out(kind):
    data = {
        "wav 44.1 kHz stereo": lambda: wav(channels=2),
        "webm/opus (a browser)": lambda: encoded("webm", "libopus"),
        "ogg/opus": lambda: encoded("ogg", "libopus"),
        "mp3": lambda: encoded("mp3", "libmp3lame", samples(rate=44100), rate=44100),
    }[kind]()
    clip = convert(data)
    rate, channels, width, peak = wav_facts(clip.wav)
    assert (rate, channels, width) == (8000, 1, 2)
    assert 1.3 <= clip.seconds <= 1.7  # 1 s of voice, 2 s of silence trimmed to a quarter-second each side
    assert 0.12 <= peak <= 0.9  # a quiet and a loud take come out alike, never clipped


def test_quiet_and_loud_takes_come_out_equally_loud():
    quiet = convert(wav(samples(level=0.03)))
    loud = convert(wav(samples(level=0.8)))
    assert abs(wav_facts(quiet.wav)[3] - wav_facts(loud.wav)[3]) < 0.02


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"", "the file is empty"),
        (b"this is a text file, not a recording" * 10, "not an audio file we can read"),
        (wav(samples(before=1, voice=0, after=1)), "only silence"),
        (wav(tone(61.5, 8000), rate=8000), "too long: 62 s; keep it under 60 s"),
    ],
)
def test_unusable_audio_is_refused_with_the_reason(data, reason):
    with pytest.raises(InputProblem) as refused:
        convert(data)
    assert reason in str(refused.value)


# ------------------------------------------------------------------ the studio page


@pytest.fixture
def studio_app(make_app, people, tmp_path, provider_server):
    # The provider's recordings come from its stand-in on this machine: listed, and
    # allowed on a loopback address (docs/security.md).
    return make_app(
        public_base_url=BASE,
        at_webhook_token="tok",
        twilio_auth_token="tw-secret",
        twilio_account_sid=FakeTwilio.SID,
        studio_pin=PIN,
        recordings_dir=str(tmp_path / "own"),
        recording_hosts=f"{provider_server.host}:{provider_server.port}",
        recording_private="on",
    )


def test_the_studio_lists_every_prompt_with_progress_and_records_an_upload(studio_app):
    client = signed_in(studio_app)
    page = client.get("/prompts?status=missing").get_data(as_text=True)
    total = sum(
        1
        for n in audit(
            runtime_of(studio_app).services.book, runtime_of(studio_app).services.catalog, runtime_of(studio_app).audio
        ).needed
        if n.language == "lo"
    )
    assert f"0 of {total} recorded" in page and "voice.sorry_english" in page
    made = upload(client, "lo", "voice.sorry_english", encoded("webm", "libopus"), name="blob")
    assert made.status_code == 200 and made.get_json()["ok"], made.get_data(as_text=True)
    assert made.get_json()["url"].endswith("/audio/lo/voice.sorry_english.wav")
    page = client.get("/prompts").get_data(as_text=True)
    assert f"1 of {total} recorded" in page
    served = client.get("/audio/lo/voice.sorry_english.wav")
    assert served.status_code == 200 and served.mimetype == "audio/wav"
    assert wav_facts(served.data)[:2] == (8000, 1)
    with runtime_of(studio_app).db.session() as db:
        event = db.scalar(select(AuditEvent).where(AuditEvent.action == "prompt.record"))
        assert event.actor == "noy@ngo.la" and event.subject == "lo/voice.sorry_english"
    kept = runtime_of(studio_app).audio.info("lo", "voice.sorry_english")
    assert kept["source"] == "browser" and "ຂໍອະໄພ" in kept["text"] and kept["by"] == "noy@ngo.la"
    assert not (studio_app.config["GATEWAY"].instance_path / "audio").exists()  # in the database, for every host


def test_a_recording_whose_text_changed_is_outdated(studio_app):
    library = runtime_of(studio_app).audio
    library.save("lo", "main.polls", convert(wav()).wav, text="an older wording", by="x", source="upload", seconds=1.5)
    client = signed_in(studio_app)
    row = client.get("/prompts?q=main.polls&lang=lo").get_data(as_text=True)
    assert 'class="tag outdated"' in row
    assert 'class="tag outdated"' in client.get("/prompts?status=outdated&lang=lo").get_data(as_text=True)


def test_publishing_a_changed_text_marks_its_recording_outdated(studio_app):
    """Recorded from the published wording, then the wording changes in a new version:
    the studio asks for a new recording (the old one still plays meanwhile)."""
    from gateway.content import publication
    from gateway.store import content as versions

    services = runtime_of(studio_app).services
    text = services.catalog.template("lo", "main.polls")
    runtime_of(studio_app).audio.save(
        "lo", "main.polls", convert(wav()).wav, text=text, by="x", source="upload", seconds=1.5
    )
    client = signed_in(studio_app)
    assert 'class="tag outdated"' not in client.get("/prompts?q=main.polls&lang=lo").get_data(as_text=True)
    with services.db.session() as db:
        docs = versions.documents(db, versions.published_number(db))
    docs["prompts/lo.yaml"] = docs["prompts/lo.yaml"].replace(f'polls: "{text}"', 'polls: "ແບບສຳຫຼວດທີ່ເປີດ"')
    assert publication.publish_documents(publication.Desk.of(services, walk_hops=False), docs, "import", "t").published
    services.library.forget()
    assert 'class="tag outdated"' in client.get("/prompts?q=main.polls&lang=lo").get_data(as_text=True)


def test_a_bad_upload_is_refused_in_her_language_and_a_viewer_cannot_record(studio_app):
    client = signed_in(studio_app)
    switch_language(client, "lo")
    refused = upload(client, "lo", "main.polls", b"not audio at all" * 20)
    assert refused.status_code == 400 and "ອ່ານ" in refused.get_json()["error"]
    assert upload(client, "lo", "no.such.key", wav()).status_code == 404
    assert upload(client, "lo", "../../etc", wav()).status_code == 404
    viewer = signed_in(studio_app, "kham@ngo.la")
    assert upload(viewer, "lo", "main.polls", wav()).status_code == 403
    assert not runtime_of(studio_app).audio.has("lo", "main.polls")


# ------------------------------------------------------------------ never silent


def walk_lao_call(app, provider: str, presses: list[str]) -> list[ET.Element]:
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055580001", name="ນ້ອຍ", language="lo")
        add_session(db, starts="2030-01-11 14:30")
    client = app.test_client()
    call = TwilioCall(client, "+8562055580001") if provider == "twilio" else AtCall(client, "+8562055580001")
    screens = []
    for press in [None] + presses:
        fields = {} if press is None else ({"Digits": press} if provider == "twilio" else {"dtmfDigits": press})
        status, body = call.post(**fields)
        assert status == 200
        screens.append(parse(body, TWILIO_VERBS if provider == "twilio" else AT_VERBS))
    return screens


@pytest.mark.parametrize("provider", ["twilio", "africastalking"])
def test_a_lao_call_with_no_recordings_at_all_is_never_silent(make_app, provider, tmp_path):
    app = make_app(
        public_base_url=BASE,
        at_webhook_token="tok",
        twilio_auth_token="tw-secret",
        twilio_account_sid=FakeTwilio.SID,
        recordings_dir=str(tmp_path / "none"),
    )
    for screen in walk_lao_call(app, provider, ["1", "2", "9", "1"]):
        for gather in list(screen.iter("Gather")) + list(screen.iter("GetDigits")):
            assert list(gather), "a screen that waits for keys plays nothing"
            assert all((e.text or e.get("url") or "").strip() for e in gather)
        for say in screen.iter("Say"):  # English text-to-speech is never handed Lao script
            assert not re.search("[\u0e80-\u0eff]", say.text or ""), say.text


@pytest.mark.parametrize("provider", ["twilio", "africastalking"])
def test_every_play_url_of_a_partly_recorded_lao_call_returns_audio(make_app, provider, tmp_path):
    app = make_app(
        public_base_url=BASE,
        at_webhook_token="tok",
        twilio_auth_token="tw-secret",
        twilio_account_sid=FakeTwilio.SID,
        recordings_dir=str(tmp_path / "own"),
    )
    library, take = runtime_of(app).audio, convert(wav()).wav
    for key in ("voice.sorry_english", "main.next_session", "main.polls", "voice.press", "number.1", "number.2"):
        library.save("lo", key, take, text="", by="test", source="upload", seconds=1.5)
    client = app.test_client()
    played = 0
    for screen in walk_lao_call(app, provider, ["1", "2"]):
        for gather in list(screen.iter("Gather")) + list(screen.iter("GetDigits")):
            assert list(gather)
        for play in screen.iter("Play"):
            url = play.get("url") or play.text
            assert url.startswith(BASE + "/audio/")
            reply = client.get(url[len(BASE) :])
            assert reply.status_code == 200 and reply.mimetype in ("audio/wav", "audio/mpeg"), url
            played += 1
    assert played >= 2


def test_a_recorded_session_title_is_played_on_a_lao_call(make_app, recorded_prompts, tmp_path):  # noqa: F811 (a fixture)
    app = make_app(
        public_base_url=BASE, at_webhook_token="tok", recordings_dir=str(tmp_path / "own"), prompts_dir=recorded_prompts
    )  # every prompt recorded; the title is recorded here
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055580002", language="lo")
        session_id = add_session(db, starts="2030-01-11 14:30").id
    key = live_texts.session_title_key(session_id)
    runtime_of(app).audio.save("lo", key, convert(wav()).wav, text="", by="t", source="upload", seconds=1.5)
    call = AtCall(app.test_client(), "+8562055580002")
    call.post()
    _, body = call.post(dtmfDigits="1")
    assert f"/audio/lo/{key}.wav" in body


# ------------------------------------------------------------------ record by phone


@pytest.fixture
def recording_server(provider_server):
    """The provider's recording URLs: Twilio's wants the account's credentials."""
    take = wav()
    auth = "Basic " + __import__("base64").b64encode(f"{FakeTwilio.SID}:tw-secret".encode()).decode()

    def twilio(request):
        from werkzeug.wrappers import Response

        if request.headers.get("Authorization") != auth:
            return Response("", 401)
        return Response(take, 200, content_type="audio/x-wav")

    provider_server.expect_request("/2010-04-01/Accounts/rec/RE1.wav").respond_with_handler(twilio)
    provider_server.expect_request("/at/recording-1.mp3").respond_with_data(
        encoded("mp3", "libmp3lame", samples(rate=44100), rate=44100), content_type="audio/mpeg"
    )
    return provider_server


@pytest.mark.parametrize("provider", ["twilio", "africastalking"])
def test_recording_a_prompt_by_phone(studio_app, recording_server, provider):
    client = studio_app.test_client()
    call = TwilioCall(client, "+8562055580003") if provider == "twilio" else AtCall(client, "+8562055580003")
    key_field, recording_field = ("Digits", "RecordingUrl") if provider == "twilio" else ("dtmfDigits", "recordingUrl")
    url = (
        recording_server.url_for("/2010-04-01/Accounts/rec/RE1")
        if provider == "twilio"
        else recording_server.url_for("/at/recording-1.mp3")
    )
    call.post()
    _, pin = call.post(**{key_field: "*"})  # * on the first menu opens the studio
    assert "PIN" in pin
    _, wrong = call.post(**{key_field: "000000"})
    assert "not right" in wrong
    _, number = call.post(**{key_field: PIN})
    assert "number of the prompt" in number
    _, unknown = call.post(**{key_field: "99999"})
    assert "no prompt with that number" in unknown
    _, record = call.post(**{key_field: "1"})  # number 1: the Lao goodbye, first on the script
    assert "<Record" in record
    _, review = call.post(**{recording_field: url})
    assert url in review and "To keep it, press 1" in review
    _, again = call.post(**{key_field: "2"})  # record again
    assert "<Record" in again
    call.post(**{recording_field: url})
    _, kept = call.post(**{key_field: "1"})
    assert "Kept" in kept and "number of the prompt" in kept
    assert not runtime_of(studio_app).audio.has("lo", "voice.goodbye")  # the job fetches it
    drain(studio_app)
    library = runtime_of(studio_app).audio
    wait_until(lambda: library.has("lo", "voice.goodbye"), 5, "heard within a second, as on every host")
    assert library.info("lo", "voice.goodbye")["source"] == "phone"
    data, mimetype = library.audio("lo", "voice.goodbye.wav")  # kept where every host reads it
    assert mimetype == "audio/wav" and wav_facts(data)[:2] == (8000, 1)


def test_the_phone_studio_hangs_up_after_three_wrong_pins_and_is_off_without_a_pin(studio_app, make_app):
    call = AtCall(studio_app.test_client(), "+8562055580004")
    call.post()
    call.post(dtmfDigits="*")
    for _ in range(2):
        assert "not right" in call.post(dtmfDigits="1111")[1]
    _, last = call.post(dtmfDigits="2222")
    assert "Goodbye" in last and "GetDigits" not in last
    plain = make_app(at_webhook_token="tok")  # no STUDIO_PIN: * is just a wrong key
    member = AtCall(plain.test_client(), "+8562055580005", "ATVId_9")
    member.post()
    assert "PIN" not in member.post(dtmfDigits="*")[1]


def test_a_live_text_is_recorded_by_its_number(studio_app, recording_server):
    with runtime_of(studio_app).db.session() as db:
        session_id = add_session(db, starts="2030-01-11 14:30").id
    number = live_texts.SESSIONS + session_id * 10 + 1
    call = AtCall(studio_app.test_client(), "+8562055580006")
    call.post()
    call.post(dtmfDigits="*")
    call.post(dtmfDigits=PIN)
    assert "<Record" in call.post(dtmfDigits=str(number))[1]
    call.post(recordingUrl=recording_server.url_for("/at/recording-1.mp3"))
    call.post(dtmfDigits="1")
    drain(studio_app)
    library = runtime_of(studio_app).audio
    wait_until(lambda: library.has("lo", live_texts.session_title_key(session_id)), 5, "heard within a second")


# ------------------------------------------------------------------ between installs


def test_import_takes_the_good_files_and_names_each_bad_one(run, app, tmp_path):
    folder = tmp_path / "recordings"
    (folder / "lo").mkdir(parents=True)
    (folder / "en").mkdir()
    (folder / "lo" / "voice.goodbye.wav").write_bytes(wav())
    (folder / "lo" / "main.polls.mp3").write_bytes(encoded("mp3", "libmp3lame", samples(rate=44100), rate=44100))
    (folder / "lo" / "main.quiz.wav").write_bytes(b"RIFF but not really audio" * 4)
    (folder / "lo" / "no.such.prompt.wav").write_bytes(wav())
    (folder / "en" / "main.polls.wav").write_bytes(b"")
    (folder / "en" / "voice.goodbye.wav").write_bytes(wav(tone(75, 8000), rate=8000))
    result = run("prompts", "import", str(folder))
    assert result.exit_code == 1
    assert "2 recording(s) imported, 4 refused" in result.output
    assert re.search(r"lo/main.quiz.wav: not an audio file", result.output)
    assert "lo/no.such.prompt.wav: no prompt 'no.such.prompt'" in result.output
    assert "en/main.polls.wav: the file is empty" in result.output
    assert "en/voice.goodbye.wav: too long" in result.output
    library = runtime_of(app).audio
    assert library.info("lo", "voice.goodbye")["source"] == "import" and library.has("lo", "main.polls")
    exported = tmp_path / "out.zip"
    made = run("prompts", "export", "--output", str(exported))
    assert made.exit_code == 0 and "2 recording(s) written" in made.output
    names = sorted(zipfile.ZipFile(exported).namelist())
    assert names == ["lo/main.polls.wav", "lo/voice.goodbye.wav"]
    with runtime_of(app).db.session() as db:  # another install, with none of them
        db.execute(delete(Recording))
    again = run("prompts", "import", str(exported))
    assert again.exit_code == 0 and "2 recording(s) imported, 0 refused" in again.output


def test_healthz_warns_while_lao_is_not_all_recorded(make_app, tmp_path):
    app = make_app(recordings_dir=str(tmp_path / "own"))
    health = app.test_client().get("/healthz").get_json()
    recorded, needed = health["voice"]["lo"]["recorded"], health["voice"]["lo"]["needed"]
    assert recorded == 0 and needed > 100
    assert health["warnings"] and f"0 of {needed} lo prompts recorded" in health["warnings"][0]


def test_the_numbered_recording_list_is_for_signed_in_readers_only(people):
    outsider = people.test_client()
    assert outsider.get("/prompts/script.csv").status_code == 302  # to sign-in, nothing served
    viewer = signed_in(people, "kham@ngo.la")
    lao = viewer.get("/prompts/script.csv?lang=lo").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lao[0].startswith("Number to type,Text,Used in,Status") and len(lao) > 20
    assert any("every call" in line for line in lao) and not any("voice.press" in line for line in lao)
    hostile = viewer.get("/prompts/script.csv?lang=../../etc/passwd")  # an unknown language: the default's
    assert hostile.status_code == 200 and "recording-script-lo.csv" in hostile.headers["Content-Disposition"]
