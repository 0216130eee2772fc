"""gunicorn settings for the recipe. With --preload the master imports Django and the models
(a FleetCounter there holds nothing: it is configuration until it draws); each worker starts
its own lease claim as soon as it has loaded the application, so that its first requests wait
less for it (a claim takes about 5 s with the defaults; requests that come sooner wait for it).

post_worker_init, not post_fork: it runs after the worker has loaded the application (without
--preload, Django's settings are known only then) and after a gevent or eventlet worker has
monkey-patched threading and sockets (a claim started before that would run in a real thread
with patched sockets, and never renew)."""


def post_worker_init(worker):
    from atomic_counter.django import warm

    warm()
