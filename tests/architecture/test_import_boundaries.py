"""What importing a layer loads at run time: domain code and shared value types stay free of
the web framework, the database and the broker (the import contracts check the source)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

FORBIDDEN = ("fastapi", "starlette", "sqlalchemy", "asyncpg", "nats")
DOMAIN_PACKAGES = ("identity.domain", "catalog.domain", "application.domain", "tracking.domain")


def _loaded_after(code: str) -> dict[str, list[str]]:
    """Run ``code`` in a fresh interpreter; it prints a JSON object of what it found."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_domain_modules_load_no_web_framework_database_or_broker() -> None:
    found = _loaded_after(
        f"""
        import importlib, json, pkgutil, sys
        forbidden = {FORBIDDEN!r}
        report = {{}}
        for package_name in {DOMAIN_PACKAGES!r}:
            package = importlib.import_module(package_name)
            names = [package_name] + [
                info.name
                for info in pkgutil.walk_packages(package.__path__, package_name + ".")
            ]
            for name in names:
                importlib.import_module(name)
            report[package_name] = sorted(names)
        report["loaded"] = sorted(
            top for top in forbidden
            if any(m == top or m.startswith(top + ".") for m in sys.modules)
        )
        print(json.dumps(report))
        """
    )
    assert len(found["catalog.domain"]) > 1  # the modules were found and imported
    assert len(found["identity.domain"]) > 1
    assert found["loaded"] == []


def test_shared_value_types_load_without_fastapi_or_nats() -> None:
    found = _loaded_after(
        f"""
        import json, sys
        from mpp_shared.auth import MFA_ENROLL_SCOPE, Principal, Role
        from mpp_shared.auth.principal import Principal as Direct
        from mpp_shared.events import CloudEvent, new_event
        from mpp_shared.contracts.catalog import v1
        assert Principal is Direct and Role.CITIZEN == "citizen" and MFA_ENROLL_SCOPE
        loaded = sorted(
            top for top in {FORBIDDEN!r}
            if any(m == top or m.startswith(top + ".") for m in sys.modules)
        )
        print(json.dumps({{"loaded": loaded}}))
        """
    )
    assert found["loaded"] == []


def test_the_lazy_auth_namespace_still_offers_the_plumbing() -> None:
    import mpp_shared.auth as auth
    from mpp_shared.auth.deps import get_principal
    from mpp_shared.auth.verify import TokenVerifier

    assert auth.get_principal is get_principal
    assert auth.TokenVerifier is TokenVerifier
    assert sorted(auth.__all__) == sorted(auth._MODULE_OF)
    with pytest.raises(AttributeError):
        auth.no_such_name  # noqa: B018 - the attribute access is the test
