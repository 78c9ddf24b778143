"""Android phones with local SIMs as the SMS route (SMS Gateway for Android)."""

from gateway.providers.android.provider import AndroidProvider

__all__ = ["AndroidProvider"]
