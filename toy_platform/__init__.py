"""toy-platform: a small job platform to learn from and to run.

`job_type` declares a function a job type (see toy_platform.jobs.types)."""

from toy_platform.jobs.types import job_type

__version__ = "0.1.0"
__all__ = ["__version__", "job_type"]
