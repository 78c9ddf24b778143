"""The three channels a member meets, one folder each (``ussd/``, ``sms/``,
``voice/``): each turns provider events into engine events, runs the flow through
the shared ``Conversations`` (``conversation.py``, with the actions it carries out
in ``actions.py``), and renders the screen. They render; they do not decide.

May import: the engine, content, store, polls, messaging, and what every part
shares. Never web or cli.
"""
