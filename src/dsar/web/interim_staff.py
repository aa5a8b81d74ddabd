"""Interim: the console's permission check until ``dsar.web.staff`` (sign-in, sessions) is
merged. ``signed_in_staff`` refuses everyone; tests put an account in its place through
FastAPI's ``dependency_overrides``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException
from starlette.requests import Request

from dsar.domain.accounts import Permission, StaffAccount, allows


def signed_in_staff(request: Request) -> StaffAccount:
    raise HTTPException(401, "sign in first")


def require(permission: Permission) -> Callable[..., StaffAccount]:
    def dependency(request: Request, staff: Annotated[StaffAccount, Depends(signed_in_staff)]) -> StaffAccount:
        if not allows(staff.role, permission):
            raise HTTPException(403, "your role does not allow this")
        request.state.staff = staff
        return staff

    return dependency
