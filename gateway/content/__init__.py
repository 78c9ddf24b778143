"""What members read and hear: flows (loaded, checked, drawn), prompt catalogs,
the shared vocabulary (provinces, topics, languages) and the prompt audit.

May import: the engine, errors, configuration helpers. The prompt audit also reads
the voice renderer, to know which recordings a call would play.
"""
