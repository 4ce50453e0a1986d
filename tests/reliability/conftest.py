"""Fixtures for the reliability tests: a real Redis and real gunicorn servers."""

from tests.support.gunicorn_server import gunicorn_factory
from tests.support.redis_server import redis_server

__all__ = ["gunicorn_factory", "redis_server"]
