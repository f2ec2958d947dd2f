"""The embedded queue (the default): jobs and callbacks in SQLite, threads in core."""
