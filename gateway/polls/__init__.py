"""Quick polls and reports: polls and votes, reading a reply, results, the quiz
report and the Lao-rendering charts (font in ``fonts/``).

May import: store, content, the engine, and messaging's broadcasts (a poll's
question goes out as a broadcast).
"""
