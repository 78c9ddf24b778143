"""Validators for free-text input nodes. Pure functions of the typed text.

Each returns ``Valid(value)`` or ``Invalid(prompt_key, vars)``; the retry message
is a prompt key so it reaches the member in their own language.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping

import phonenumbers

from gateway.engine.digits import fold_digits


@dataclass(frozen=True)
class Valid:
    value: Any


@dataclass(frozen=True)
class Invalid:
    key: str
    vars: Mapping[str, Any] = field(default_factory=dict)


_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Collapse whitespace and drop control and format characters (keeps Lao marks)."""
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\t\n ")
    return _SPACES.sub(" ", kept).strip()


@dataclass(frozen=True)
class TextValidator:
    min: int = 1
    max: int = 60
    kind = "text"

    def __call__(self, raw: str):
        text = clean_text(raw)
        if not self.min <= len(text) <= self.max:
            return Invalid("validate.text_length", {"min": self.min, "max": self.max})
        return Valid(text)


@dataclass(frozen=True)
class NumberValidator:
    min: int = 0
    max: int = 10**9
    kind = "number"

    def __call__(self, raw: str):
        text = fold_digits(raw).strip()
        if not text.isascii() or not text.isdigit() or len(text) > 12:
            return Invalid("validate.number", {"min": self.min, "max": self.max})
        number = int(text)
        if not self.min <= number <= self.max:
            return Invalid("validate.number", {"min": self.min, "max": self.max})
        return Valid(number)


@dataclass(frozen=True)
class ChoiceValidator:
    values: tuple[str, ...] = ()
    kind = "choice"

    def __call__(self, raw: str):
        text = clean_text(fold_digits(raw)).casefold()
        for value in self.values:
            if text == value.casefold():
                return Valid(value)
        return Invalid("validate.choice", {"choices": ", ".join(self.values)})


@dataclass(frozen=True)
class PhoneValidator:
    region: str = "LA"
    kind = "phone"

    def __call__(self, raw: str):
        text = fold_digits(raw).strip()
        try:
            number = phonenumbers.parse(text[:32], self.region)
        except phonenumbers.NumberParseException:
            return Invalid("validate.phone")
        if not phonenumbers.is_valid_number(number):
            return Invalid("validate.phone")
        return Valid(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


_DATE = re.compile(r"^(\d{1,2})[./\- ](\d{1,2})[./\- ](\d{4})$")


@dataclass(frozen=True)
class DateValidator:
    """Day first, as written in Laos: 27/11/2026, 27-11-2026 or 27.11.2026."""

    kind = "date"

    def __call__(self, raw: str):
        match = _DATE.match(fold_digits(raw).strip())
        if not match:
            return Invalid("validate.date")
        day, month, year = (int(part) for part in match.groups())
        try:
            return Valid(date(year, month, day).isoformat())
        except ValueError:
            return Invalid("validate.date")


VALIDATORS = {
    "text": TextValidator,
    "number": NumberValidator,
    "choice": ChoiceValidator,
    "phone": PhoneValidator,
    "date": DateValidator,
}


def build_validator(spec: Mapping[str, Any]):
    """Build a validator from its YAML mapping, e.g. ``{type: text, max: 40}``."""
    params = dict(spec)
    kind = params.pop("type", "text")
    if kind not in VALIDATORS:
        raise ValueError(f"unknown validator {kind!r}; known: {', '.join(VALIDATORS)}")
    if kind == "choice":
        params["values"] = tuple(str(v) for v in params.get("values", ()))
    return VALIDATORS[kind](**params)
