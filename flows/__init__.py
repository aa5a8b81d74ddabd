"""Prefect flows and deployments: thin, ordering service calls. No business rules here."""
