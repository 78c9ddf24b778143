"""gunicorn settings for ``outreach up``: load the app once, before forking.

With ``preload_app`` the master imports and builds the app, and every worker starts
as a fork of it, sharing those pages with the others (copy-on-write) instead of
importing and building its own: the web tier's memory drops by most of a worker.
Nothing is connected while the app is built (the database engine and Redis connect
on first use), and ``post_fork`` drops anything a worker must not share with its
siblings: the engines' pools (the database's, the inbox's) and Redis's connections
are reset in each new worker.
"""

preload_app = True
# gunicorn 23+ opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl),
# so two gateways on one machine (staging beside production, or two networks) would
# take it from each other. Nothing here uses it.
control_socket_disable = True


def post_fork(server, worker):  # noqa: ARG001 (gunicorn's hook signature)
    from gateway.runtime import runtime_of

    app = server.app.wsgi()
    runtime_of(app).db.engine.dispose(close=False)  # never reuse a parent's connection
    runtime_of(app).inbox.store.engine.dispose(close=False)  # the inbox's own (it created its table)
    runtime_of(app).redis.connection_pool.reset()
    # Texts this host spooled through a database outage are drained from the start,
    # not when the next text arrives (a thread: started after the fork, never before).
    runtime_of(app).spool.watch(runtime_of(app).inbox.add)
