"""gunicorn settings for the recipe. With --preload the master imports Django and the models
(a FleetCounter there holds nothing: it is configuration until it draws); each worker, once
forked, starts its own lease claim at once, so that its first request does not wait for it."""


def post_fork(server, worker):
    from atomic_counter.django import warm

    warm()
