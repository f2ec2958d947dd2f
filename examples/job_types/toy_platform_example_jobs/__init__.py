"""Example job types for toy-platform (declared in `toy_platform_example_jobs.types`)."""
