"""toy-platform: a small job platform to learn from and to run."""

__version__ = "0.1.0"
