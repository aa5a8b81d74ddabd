"""The web app: the public request form, the staff console and the JSON API (FastAPI,
server-rendered jinja2 pages, no build step). Built by :func:`dsar.web.app.create_app`."""
