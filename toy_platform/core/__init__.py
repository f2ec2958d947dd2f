"""The core service: a durable queue and what runs its jobs (app: core.app.create_app)."""
