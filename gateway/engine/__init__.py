"""The pure flow engine. It does no I/O and imports no web, queue, database or SDK
module; ``tests/test_engine_purity.py`` holds it to that."""

from gateway.engine.events import (
    ActionCall,
    ActionResult,
    FinishQuiz,
    Input,
    Option,
    RecordAnswer,
    Recorded,
    Screen,
    SendSms,
    Start,
    State,
    Step,
    Text,
)
from gateway.engine.model import FlowBook
from gateway.engine.step import current_screen, step

__all__ = [
    "ActionCall",
    "ActionResult",
    "FinishQuiz",
    "FlowBook",
    "Input",
    "Option",
    "RecordAnswer",
    "Recorded",
    "Screen",
    "SendSms",
    "Start",
    "State",
    "Step",
    "Text",
    "current_screen",
    "step",
]
