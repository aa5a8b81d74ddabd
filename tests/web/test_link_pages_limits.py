"""/package and /letter, the pages behind a link opened with a one-time code: each counts its
posts per source address on a limiter of its own (20 an hour), answers the 21st with its own
429 page (in the visitor's language) and Retry-After, and checks the CSRF token before counting."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dsar.web.i18n import CATALOGS
from tests.web.conftest import csrf_from, make_web


@pytest.mark.parametrize(("part", "opens"), [("package", "download"), ("letter", "open")])
def test_each_link_page_limits_its_posts_per_address_on_its_own_count(tmp_path: Path, part: str, opens: str) -> None:
    w = make_web(tmp_path / "home")
    other = "letter" if part == "package" else "package"
    with TestClient(w.fastapi, headers={"Accept-Language": "de"}) as client:
        page = client.get(f"/{part}")
        csrf = csrf_from(page.text)
        assert client.post(f"/{part}/code", data={"token": "f" * 64}).status_code == 403  # no CSRF token: not counted
        answers = [
            client.post(f"/{part}/{step}", data={"csrf_token": csrf, "token": "f" * 64, "code": "123456"}) for step in ["code", opens] * 10
        ]
        assert {a.status_code for a in answers} == {410}  # an unknown link: the expired link's page
        slow = client.post(f"/{part}/code", data={"csrf_token": csrf, "token": "f" * 64})
        assert slow.status_code == 429 and int(slow.headers["Retry-After"]) > 0
        assert CATALOGS["de"][f"{part}.slow"] in slow.text and '<html lang="de">' in slow.text
        assert client.post(f"/{part}/{opens}", data={"csrf_token": csrf, "token": "f" * 64, "code": "1"}).status_code == 429
        other_page = client.get(f"/{other}")
        assert client.post(f"/{other}/code", data={"csrf_token": csrf_from(other_page.text), "token": "f" * 64}).status_code == 410
    w.app.engine.dispose()
