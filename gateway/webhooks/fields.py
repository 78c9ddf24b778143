"""A webhook's fields, whether the sender posts a form or JSON (a local aggregator may do either)."""

from __future__ import annotations

from flask import request


def request_fields() -> dict:
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ValueError("the JSON body is not an object")
        return data
    return request.form.to_dict()
