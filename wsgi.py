"""WSGI entry point: ``gunicorn wsgi:app``."""

import gc

from shop import create_app

app = create_app()
# The imports leave some 200,000 long-lived objects (pandas, scikit-learn, SQLAlchemy, Jinja) that
# every full garbage collection would walk again: tens of milliseconds, landing on whichever request
# happens to allocate at the time. Freezing them moves them out of the collector's sight; objects
# made later (requests, a loaded model) are collected as usual.
gc.collect()
gc.freeze()
