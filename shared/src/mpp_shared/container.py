"""The images' entry point: ``python -m mpp_shared.container`` runs the service ``MPP_SERVICE``.

One image recipe (the root ``Dockerfile``, ``ARG SERVICE``) builds every service; what differs
between them at run time is the package to run, its settings prefix and its port, all known
from the service's name. In a container the service listens on every interface unless its
``MPP_<SERVICE>_HOST`` says otherwise. ``--healthcheck`` asks the running service's
``/healthz`` (the slim image has no curl) and exits 0 or 1.
"""

from __future__ import annotations

import os
import runpy
import sys
import urllib.request

# The package each image runs, with its default port (the service's config.py).
PORTS = {"gateway": 8080, "identity": 8081, "catalog": 8082, "application": 8083, "tracking": 8084}


def service_name(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    name = environ.get("MPP_SERVICE", "")
    if name not in PORTS:
        raise SystemExit(f"MPP_SERVICE must be one of {', '.join(PORTS)}, not {name!r}")
    return name


def port(name: str, environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    return int(environ.get(f"MPP_{name.upper()}_PORT", PORTS[name]))


def healthcheck(name: str) -> int:
    url = f"http://127.0.0.1:{port(name)}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    name = service_name()
    if args == ["--healthcheck"]:
        return healthcheck(name)
    if args:
        raise SystemExit("usage: python -m mpp_shared.container [--healthcheck]")
    os.environ.setdefault(f"MPP_{name.upper()}_HOST", "0.0.0.0")  # noqa: S104 - in a container
    runpy.run_module(name, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
