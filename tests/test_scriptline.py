"""The lean Redis line USSD hops run their scripts on, against a real Redis server:
through an outage, a script flush, a fork, a server that never answers, and a
login. And the hop itself over that line while Redis is down."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .handsets import Phone
from gateway.channels.ussd.scriptline import Script, ScriptLine

from .outage import Outage

COUNT = Script("return redis.call('incrby', KEYS[1], ARGV[1])")


@pytest.fixture
def key(redis_url):
    name = f"test:line:{uuid.uuid4().hex}"
    yield name
    Redis.from_url(redis_url).delete(name)


def test_a_script_runs_and_its_reply_comes_back_as_redis_py_gives_it(redis_url, key):
    line = ScriptLine.for_url(redis_url)
    assert line.run(COUNT, [key], [2]) == 2
    assert line.run(COUNT, [key], [3]) == 5
    assert line.run(Script("return {1, false, 'x'}"), [], []) == [1, None, b"x"]
    assert Redis.from_url(redis_url).get(key) == b"5"  # the URL's database, not 0


def test_a_script_the_server_forgot_is_sent_again(redis_url, key):
    line = ScriptLine.for_url(redis_url)
    line.run(COUNT, [key], [1])
    Redis.from_url(redis_url).script_flush()  # as a restarted server forgets them
    assert line.run(COUNT, [key], [1]) == 2


def test_a_failing_script_raises_redis_pys_error_and_the_line_goes_on(redis_url, key):
    line = ScriptLine.for_url(redis_url)
    with pytest.raises(ResponseError):
        line.run(Script("return redis.call('nosuchcommand')"), [], [])
    assert line.run(COUNT, [key], [1]) == 1


def test_through_an_outage_it_fails_clearly_then_reconnects_by_itself(redis_url, key):
    proxy, url = Outage.for_url(redis_url)
    try:
        line = ScriptLine.for_url(url)
        assert line.run(COUNT, [key], [1]) == 1
        proxy.cut()
        with pytest.raises(RedisConnectionError):
            line.run(COUNT, [key], [1])
        proxy.restore()
        assert line.run(COUNT, [key], [1]) == 2  # nothing ran while it was down
    finally:
        proxy.stop()


def test_a_server_that_never_answers_times_out(key):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        line = ScriptLine(silent.getsockname(), timeout_s=0.3, connect_timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            line.run(COUNT, [key], [1])
        assert time.monotonic() - started < 2
    finally:
        silent.close()


def test_a_forked_child_gets_its_own_connection(redis_url, key):
    """gunicorn forks its workers after loading the app: a socket shared with the
    parent would interleave their commands and hand each the other's replies."""
    line = ScriptLine.for_url(redis_url)
    assert line.run(COUNT, [key], [1]) == 1
    inherited = line._idle[0].sock.fileno()
    pid = os.fork()
    if pid == 0:  # the child: any failure is its exit code
        try:
            ok = not line._idle and all(line.run(COUNT, [key], [10]) > 10 for _ in range(50))
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    totals = [line.run(COUNT, [key], [1]) for _ in range(50)]
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert line._idle[0].sock.fileno() == inherited  # the parent kept its own
    assert Redis.from_url(redis_url).get(key) == str(1 + 50 + 500).encode()
    assert totals == sorted(totals)


def test_threads_never_share_a_socket(redis_url, key):
    line = ScriptLine.for_url(redis_url)
    errors = []

    def count():
        try:
            for _ in range(100):
                line.run(COUNT, [key], [1])
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Redis.from_url(redis_url).get(key) == b"400"


def test_it_logs_in_as_the_url_says(redis_url, key):
    admin = Redis.from_url(redis_url)
    user, password = f"line{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin.acl_setuser(
        user,
        enabled=True,
        passwords=[f"+{password}"],
        keys=["test:line:*"],
        commands=["+evalsha", "+eval", "+incrby", "+select", "+auth"],
    )
    try:
        line = ScriptLine.for_url(redis_url)
        good = ScriptLine(line.address, line.db, user, password)
        assert good.run(COUNT, [key], [1]) == 1
        with pytest.raises(RedisConnectionError, match="AUTH"):
            ScriptLine(line.address, line.db, user, "wrong").run(COUNT, [key], [1])
    finally:
        admin.acl_deluser(user)


def test_tls_urls_stay_with_redis_py():
    assert ScriptLine.for_url("rediss://example.org:6380/0") is None


def test_a_hop_while_redis_is_down_gets_a_readable_end_and_the_session_goes_on_after(make_app, redis_url):
    proxy, url = Outage.for_url(redis_url)
    try:
        app = make_app(redis_url=url)
        phone = Phone(app.test_client(), "+8562055510077", "*384*1#", "")
        assert phone.dial().startswith("CON ")
        proxy.cut()
        response = app.test_client().post(
            "/ussd/africastalking",
            data={
                "sessionId": phone.session_id,
                "serviceCode": "*384*1#",
                "phoneNumber": phone.phone,
                "networkCode": "45701",
                "text": "0",
            },
        )
        assert response.status_code == 200
        assert response.get_data(as_text=True).startswith("END ")
        proxy.restore()
        assert phone.press("0").startswith("CON ")  # her session was kept; the line came back
    finally:
        proxy.stop()


@pytest.mark.parametrize("lean", [True, False], ids=["scriptline", "redis-py (a TLS URL)"])
def test_a_session_opens_saves_and_unlocks_the_same_on_either_client(redis_url, lean):
    from gateway.channels.ussd.sessions import UssdRecord, UssdSessions

    redis = Redis.from_url(redis_url)
    sessions = UssdSessions(redis, 60, 60, ScriptLine.for_url(redis_url) if lean else None)
    session_id, phone_key = f"test-{uuid.uuid4().hex}", uuid.uuid4().hex
    try:
        opened = sessions.open(session_id, phone_key)
        assert (opened.record, opened.locked, opened.hops_this_minute, opened.resume) == (None, True, 1, None)
        assert not sessions.open(session_id, phone_key).locked  # held until saved
        sessions.save(
            session_id, UssdRecord(last_text="1", reply="CON hi"), opened.token, phone_key, resume={"flow": "register"}
        )
        again = sessions.open(session_id, phone_key)
        assert again.locked and again.record.reply == "CON hi" and again.hops_this_minute == 3
        sessions.unlock(session_id, again.token)
        assert sessions.resume_slot(phone_key) == {"flow": "register"}
    finally:
        key = UssdSessions.session_key(session_id)
        redis.delete(key, key + ":lock", f"ussd:resume:{phone_key}")
        for rate_key in redis.scan_iter(f"ussd:rate:{phone_key}:*"):
            redis.delete(rate_key)
