"""Sending: the outbox, broadcasts and their audience, bulk sending with its
throttle, calls we place, session reminders, the RQ jobs and worker, and the
reconciler that settles what a crash or a lost Redis left behind.

May import: store, content, providers, polls (feedback polls, closing), and what
every part shares (services, broker, config, errors, phone, encoding). Never the
channels, web or cli.
"""
