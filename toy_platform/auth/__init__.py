"""The auth service: users in users.json, /login issues JWTs (app: auth.app.create_app)."""
