"""The web app service: serves the built React app (app: web.app.create_app)."""
