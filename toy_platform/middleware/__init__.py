"""The middleware: the API every front-end calls (app: middleware.app.create_app)."""
