"""Outreach Gateway: SMS, USSD and voice-first outreach for civil-society networks.

``create_app`` is imported lazily so that ``gateway.engine`` can be imported
without pulling in Flask, Redis or SQLAlchemy.
"""


def create_app(config=None):
    from gateway.app import create_app as factory

    return factory(config)


__all__ = ["create_app"]
