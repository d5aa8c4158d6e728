"""`make run`'s demo data: the README's citizens log in with the README's password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from identity.demo_data import DEMO_CITIZEN_PASSWORD
from identity.main import create_app
from mpp_shared.testing.client import app_client

from .conftest import ISSUER, make_settings


async def test_the_readmes_demo_citizens_log_in(infrastructure: Any, dataset: Path):
    settings = make_settings(infrastructure, dataset, seed_demo_data=True)
    async with app_client(create_app(settings), base_url=ISSUER) as client:
        logins = [
            await client.post(
                "/api/v1/auth/login",
                json={"username": f"warga{n}@mpp.local", "password": DEMO_CITIZEN_PASSWORD},
            )
            for n in (1, 2)
        ]
        me = await client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {logins[0].json()['access_token']}"}
        )

    assert [login.status_code for login in logins] == [200, 200]
    assert me.json()["full_name"] == "BUDI SANTOSO"
