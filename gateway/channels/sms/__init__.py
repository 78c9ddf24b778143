"""Conversational SMS: the inbound service, keywords (STOP/START ...), and the
renderer that turns a screen into one text."""
