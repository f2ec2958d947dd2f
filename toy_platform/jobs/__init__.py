"""The job domain: what a job is (model), how its state changes in the middleware's store
(lifecycle) and how core runs it and reports it (running). No SQL, no Flask, no Celery:
both queues and both stores use these rules as they are."""
