"""Twilio: SMS and calls, through the official ``twilio`` SDK."""
