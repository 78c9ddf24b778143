"""Phone calls over both providers: valid XML with documented verbs only, golden call
transcripts for every flow in both languages, a whole call driven by callbacks,
recordings, silence, hang-ups, authentication, the audio files and the audit.

Recordings are generated here (short silent WAV files), never shipped.
"""

from __future__ import annotations

import re
import shutil
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from gateway.content.recordings import Recordings
from gateway.content.flows import load_book
from gateway.content.prompt_audit import audit
from gateway.content.prompts import Catalog
from gateway.runtime import runtime_of
from gateway.store import members

from .fakes import FakeTwilio
from .helpers import add_member, add_session, twilio_post
from .test_golden import stored_summary

ROOT = Path(__file__).resolve().parent.parent
CASES = Path(__file__).parent / "cases" / "calls"
BASE = "https://gw.example.org"
TWILIO_VERBS = {"Response", "Gather", "Play", "Say", "Record", "Redirect", "Hangup", "Reject"}
AT_VERBS = {"Response", "GetDigits", "Play", "Say", "Record", "Redirect", "Reject"}


def silent_wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 400)  # 50 ms


@pytest.fixture(scope="session")
def recorded_prompts(tmp_path_factory) -> Path:
    """The shipped prompts with a generated recording for every piece a call needs."""
    folder = tmp_path_factory.mktemp("prompts")
    for path in (ROOT / "prompts").glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    result = audit(load_book(ROOT / "flows"), Catalog.load(folder), Recordings(None, folder / "audio"))
    for needed in result.needed:
        silent_wav(folder / "audio" / needed.language / f"{needed.key}.wav")
    return folder


@pytest.fixture
def voice_app(make_app, recorded_prompts):
    return make_app(
        prompts_dir=recorded_prompts,
        public_base_url=BASE,
        at_webhook_token="tok",
        twilio_auth_token="tw-secret",
        twilio_account_sid=FakeTwilio.SID,
        voice_max_repeats=2,
    )


def parse(xml: str, verbs: set[str]) -> ET.Element:
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    used = {element.tag for element in root.iter()}
    assert used <= verbs, f"undocumented verbs {used - verbs}"
    return root


def heard(root: ET.Element) -> list[str]:
    """What the caller hears, as recording keys (or the words read aloud)."""
    out = []
    for element in root.iter():
        if element.tag == "Play":
            url = element.get("url") or element.text
            out.append(url.rsplit("/", 1)[-1].rsplit(".", 1)[0])
        elif element.tag == "Say":
            out.append(f"say: {element.text}")
    return out


class AtCall:
    """Posts Africa's Talking voice callbacks for one call."""

    def __init__(self, client, phone: str, session_id: str = "ATVId_1"):
        self.client, self.phone, self.session_id = client, phone, session_id

    def post(self, token="tok", **fields) -> tuple[int, str]:
        form = {
            "sessionId": self.session_id,
            "callerNumber": self.phone,
            "destinationNumber": "+85621000000",
            "direction": "Inbound",
            "isActive": "1",
            **fields,
        }
        response = self.client.post(f"/voice/africastalking?token={token}", data=form)
        return response.status_code, response.get_data(as_text=True)


class TwilioCall:
    def __init__(self, client, phone: str, sid: str = "CA" + "1" * 32):
        self.client, self.phone, self.sid = client, phone, sid

    def post(self, query: str = "", sign: bool = True, **fields) -> tuple[int, str]:
        form = {
            "CallSid": self.sid,
            "From": self.phone,
            "To": "+15005550006",
            "Direction": "inbound",
            "CallStatus": "in-progress",
            "AccountSid": FakeTwilio.SID,
            **fields,
        }
        response = twilio_post(self.client, "/voice/twilio" + query, form, sign=sign)
        return response.status_code, response.get_data(as_text=True)


# ------------------------------------------------------------------ golden transcripts

CALLS = sorted(CASES.glob("*.yaml"))


@pytest.mark.parametrize("path", CALLS, ids=[p.stem for p in CALLS])
def test_golden_call(path, voice_app, request):
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    with runtime_of(voice_app).db.session() as db:
        for spec in case.get("setup", {}).get("members", []):
            add_member(db, **spec)
        for spec in case.get("setup", {}).get("sessions", []):
            add_session(db, **spec)
    call = AtCall(voice_app.test_client(), case["phone"])
    walked = []
    for step in case["steps"]:
        press = str(step["press"])
        if press == "CALL":
            fields = {}
        elif press.startswith("RECORD "):
            fields = {"recordingUrl": f"https://voice.example.org/recordings/{press[7:]}.mp3"}
        elif press == "SILENCE":
            fields = {}
        else:
            fields = {"dtmfDigits": press}
        status, xml = call.post(**fields) if press != "SILENCE" else _silence(call)
        assert status == 200
        walked.append({"press": press, "heard": heard(parse(xml, AT_VERBS))})
    summary = stored_summary(voice_app, case["phone"])
    if request.config.getoption("--update-goldens"):
        case["steps"], case["expect"] = walked, summary
        path.write_text(yaml.safe_dump(case, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")
        return
    for number, (want, got) in enumerate(zip(case["steps"], walked, strict=True), start=1):
        assert got["heard"] == want["heard"], f"{path.name} step {number} (press {got['press']})"
    assert summary == case["expect"]


def _silence(call: AtCall) -> tuple[int, str]:
    response = call.client.post(
        "/voice/africastalking?token=tok&silent=1",
        data={"sessionId": call.session_id, "callerNumber": call.phone, "direction": "Inbound", "isActive": "1"},
    )
    return response.status_code, response.get_data(as_text=True)


# ------------------------------------------------------------------ whole calls, both providers


def test_a_whole_twilio_call_registers_a_caller_with_recorded_name(make_app, recorded_prompts):
    # With reminder calls switched on, registration also asks "SMS or a phone call?".
    voice_app = make_app(
        prompts_dir=recorded_prompts,
        public_base_url=BASE,
        at_webhook_token="tok",
        twilio_auth_token="tw-secret",
        twilio_account_sid=FakeTwilio.SID,
        reminder_calls="on",
    )
    call = TwilioCall(voice_app.test_client(), "+8562055570001")
    status, xml = call.post()
    root = parse(xml, TWILIO_VERBS)
    gather = root.find("Gather")
    assert status == 200 and gather.get("input") == "dtmf" and gather.get("numDigits") == "1"
    assert gather.get("action") == f"{BASE}/voice/twilio"
    assert heard(root)[:2] == [
        "register.welcome_voice",
        "lang.lo_voice",
    ]  # the call's own words (no Lao script for English TTS)
    root = parse(call.post(Digits="2")[1], TWILIO_VERBS)  # English
    record = root.find("Record")
    assert record is not None and record.get("action") == f"{BASE}/voice/twilio"
    assert heard(root) == ["register.name_voice", "voice.record"]
    root = parse(
        call.post(RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1")[1], TWILIO_VERBS
    )
    assert heard(root)[0] == "register.organisation_voice"
    root = parse(
        call.post(RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE2")[1], TWILIO_VERBS
    )
    assert root.find("Gather").get("numDigits") == "1" and heard(root)[0] == "register.region"
    call.post(Digits="3")  # the south
    root = parse(call.post(Digits="2")[1], TWILIO_VERBS)  # Sekong; then the topics, several keys
    gather = root.find("Gather")
    assert gather.get("numDigits") == "2" and gather.get("finishOnKey") == "#"
    assert heard(root)[-1] == "voice.then_hash"
    root = parse(call.post(Digits="13")[1], TWILIO_VERBS)
    assert heard(root)[0] == "register.remind_by"
    for digits in ("2", "1"):  # remind by call, consent
        status, xml = call.post(Digits=digits)
        assert status == 200
    with runtime_of(voice_app).db.session() as db:
        member = members.by_phone(db, "+8562055570001")
        assert member.registered and member.language == "en" and member.reminder_channel == "voice"
        assert (member.province, member.topics) == ("sekong", ["digital_safety", "nutrition"])
        assert member.name.endswith("/Recordings/RE1") and member.organisation.endswith("/Recordings/RE2")
    assert call.post(CallStatus="completed")[0] == 200


def test_silence_repeats_the_prompt_then_ends_the_call_politely(voice_app):
    with runtime_of(voice_app).db.session() as db:
        add_member(db, "+8562055570002", language="en")
    call = TwilioCall(voice_app.test_client(), "+8562055570002")
    first = heard(parse(call.post()[1], TWILIO_VERBS))
    for _ in range(2):  # VOICE_MAX_REPEATS
        again = parse(call.post(query="?silent=1")[1], TWILIO_VERBS)
        assert heard(again) == first
    root = parse(call.post(query="?silent=1")[1], TWILIO_VERBS)
    assert heard(root) == ["voice.goodbye"] and root.find("Hangup") is not None


def test_an_invalid_key_says_so_and_repeats_the_menu(voice_app):
    with runtime_of(voice_app).db.session() as db:
        add_member(db, "+8562055570003", language="lo")
    call = AtCall(voice_app.test_client(), "+8562055570003")
    menu = heard(parse(call.post()[1], AT_VERBS))
    retry = heard(parse(call.post(dtmfDigits="9")[1], AT_VERBS))
    assert retry[0] == "validate.menu_voice@1" and retry[-len(menu) :] == menu


def test_at_end_of_call_closes_the_session(voice_app):
    with runtime_of(voice_app).db.session() as db:
        add_member(db, "+8562055570004", language="lo")
    client = voice_app.test_client()
    call = AtCall(client, "+8562055570004")
    call.post()
    call.post(dtmfDigits="1")  # next session
    status, xml = call.post(isActive="0", durationInSeconds="31", amount="0.2")
    assert status == 200 and parse(xml, AT_VERBS).findall("*") == []
    assert heard(parse(call.post()[1], AT_VERBS))[0] == "main.menu"  # a new call starts over
    redis = runtime_of(voice_app).redis
    assert not any(b"+856" in key for key in redis.keys("*"))


def test_lao_without_recordings_is_never_silent_it_falls_back_to_english(make_app):
    app = make_app(public_base_url=BASE)  # the shipped prompts: no recordings at all
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055570005", language="en")
        add_member(db, "+8562055570006", language="lo")
    token = app.config["GATEWAY"].at_webhook_token  # the install's own: none was set
    english = parse(AtCall(app.test_client(), "+8562055570005").post(token=token)[1], AT_VERBS)
    assert [e.tag for e in english.find("GetDigits")] == ["Say"]
    spoken = english.find("GetDigits/Say").text
    assert spoken.startswith("Hello Noy. For Next session press 1. For Safety quiz press 2.")
    lao = parse(AtCall(app.test_client(), "+8562055570006", "ATVId_2").post(token=token)[1], AT_VERBS)
    # AT's Say reads English only: with no Lao recordings (not even the apology), the
    # same screen is read in English, so the keys she presses are the same.
    assert [e.tag for e in lao.find("GetDigits")] == ["Say"]
    assert lao.find("GetDigits/Say").text.startswith("Hello Noy. For Next session press 1.")


def test_dates_are_spoken_from_pieces(voice_app):
    with runtime_of(voice_app).db.session() as db:
        add_member(db, "+8562055570007", language="lo")
        add_session(db, starts="2030-01-11 14:30")
    call = AtCall(voice_app.test_client(), "+8562055570007")
    call.post()
    pieces = heard(parse(call.post(dtmfDigits="1")[1], AT_VERBS))
    # Friday 11 January, at 14 o'clock 30 minutes (Asia/Vientiane), as a Lao speaker says it
    assert [
        "time.weekday.4",
        "number.11",
        "time.month.1",
        "voice.at",
        "number.14",
        "voice.hours",
        "number.30",
        "voice.minutes",
    ] == pieces[pieces.index("time.weekday.4") : pieces.index("time.weekday.4") + 8]


@pytest.mark.parametrize("provider", ["twilio", "africastalking"])
def test_hostile_callbacks_get_valid_xml(voice_app, provider):
    client = voice_app.test_client()
    forms = [
        {},
        {"From": "not a phone", "CallSid": "x"},
        {"callerNumber": "+856", "sessionId": ""},
        {"From": "+8562055570008", "CallSid": "C" * 500, "Digits": "1" * 100},
        {"callerNumber": "+8562055570008", "sessionId": "S", "dtmfDigits": "\x00<&>"},
    ]
    for form in forms:
        if provider == "twilio":
            status, xml = TwilioCall(client, form.get("From", "")).post(**form)
            parse(xml, TWILIO_VERBS)
        else:
            response = client.post("/voice/africastalking?token=tok", data=form)
            status, xml = response.status_code, response.get_data(as_text=True)
            parse(xml, AT_VERBS)
        assert status == 200


def test_bad_signature_or_token_gets_403_and_nothing_is_kept(voice_app):
    client = voice_app.test_client()
    status, xml = TwilioCall(client, "+8562055570009").post(sign=False)
    assert status == 403 and parse(xml, TWILIO_VERBS).find("Reject") is not None
    status, xml = AtCall(client, "+8562055570009").post(token="wrong")
    assert status == 403 and parse(xml, AT_VERBS).find("Reject") is not None
    assert runtime_of(voice_app).redis.keys("voice:*") == []
    with runtime_of(voice_app).db.session() as db:
        assert members.by_phone(db, "+8562055570009") is None


def test_audio_is_served_and_nothing_else(voice_app):
    client = voice_app.test_client()
    response = client.get("/audio/lo/main.menu.wav")
    assert response.status_code == 200 and response.data[:4] == b"RIFF"
    for path in ("/audio/lo/nothing.wav", "/audio/../lo.yaml", "/audio/lo/..%2Flo.yaml", "/audio/xx/main.menu.wav"):
        assert client.get(path).status_code == 404


def test_prompts_audit_lists_gaps_and_writes_a_script(run, tmp_path):
    script = tmp_path / "script.csv"
    result = run("prompts", "audit", "--script", str(script))
    assert result.exit_code == 0, result.output
    assert "lo: 0 of" in result.output and "{title} in next_session.details" in result.output
    lines = script.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "number,key,language,text,used_in,file"
    assert any(re.match(r"\d+,main\.polls,lo,ແບບສຳຫຼວດ,main:menu,", line) for line in lines)
    assert any(re.match(r"\d+,time\.month\.11,lo,ພະຈິກ,dates,", line) for line in lines)
    assert lines[1].startswith("1,voice.goodbye,lo,") and lines[2].startswith("2,voice.sorry_english,lo,")
    check = run("flows", "check")
    assert check.exit_code == 0 and "recording(s) missing in lo (calls play those screens in English" in check.output


def test_the_simulator_prints_what_a_caller_hears(run, app):
    with runtime_of(app).db.session() as db:
        add_member(db, "+8562055570010", language="lo")
    result = run("simulate", "--channel", "voice", "--phone", "+8562055570010", "--input", "4")
    assert result.exit_code == 0, result.output
    assert "ກິດຈະກຳຕໍ່ໄປ" in result.output and "[main.next_session; no recording: ENGLISH meanwhile]" in result.output
    assert "ເລືອກພາສາ / Choose language:" in result.output  # 4 = language


def test_registration_by_voice_stores_nothing_until_consent(voice_app):
    call = AtCall(voice_app.test_client(), "+8562055570011")
    call.post()
    call.post(dtmfDigits="1")
    call.post(recordingUrl="https://voice.example.org/r/1.mp3")
    with runtime_of(voice_app).db.session() as db:
        assert db.scalar(select(members.Member.id).where(members.Member.phone == "+8562055570011")) is None


@pytest.mark.parametrize("provider", ["twilio", "africastalking"])
def test_a_database_failure_still_gets_valid_xml(voice_app, provider, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("connect", {}, OSError("database down"))

    engine = runtime_of(voice_app).db.engine
    engine.dispose()
    monkeypatch.setattr(engine, "connect", down)  # the database goes away mid-call
    client = voice_app.test_client()
    if provider == "twilio":
        status, xml = TwilioCall(client, "+8562055570012").post()
        root = parse(xml, TWILIO_VERBS)
    else:
        status, xml = AtCall(client, "+8562055570012").post(direction="Outbound")
        root = parse(xml, AT_VERBS)
    assert status == 200 and heard(root) == ["voice.goodbye"]
