"""Routes of the web app: console (to be built)."""

from __future__ import annotations

from fastapi import APIRouter


def router() -> APIRouter:
    from dsar.web import console_auth

    r = APIRouter()
    r.include_router(console_auth.router())
    return r
