"""The Celery queue: a Redis broker, and `toy-platform worker`s on any machine."""
