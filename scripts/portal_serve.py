"""Serve a built portal (UI + /api) on one port in prod mode without rebuilding.

    python scripts/portal_serve.py <dmt_app|admin_app> <port> <built_port>

`reflex run --env prod` recompiles and rebuilds the frontend on every start
(minutes on a small machine). The build made by `scripts/portal.sh build` is
reused instead: the only port-specific file of the bundle is the `reflex-env-*.js`
asset (backend URLs), so for another port a copy of the static files is made
with that file rewritten. Then Reflex's own prod backend (granian) starts with
the frontend mounted, as `reflex run --env prod` does after its build.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def prepare_static_dir(web_dir: Path, port: int, built_port: int) -> Path:
    """Return a web dir whose build/client serves `port` (the build itself or a patched copy)."""
    client = web_dir / "build" / "client"
    if not (client / "index.html").exists():
        raise SystemExit(f"{client} has no build: run scripts/portal.sh build first")
    if port == built_port:
        return web_dir
    target_web = web_dir / f"dist-{port}"
    stamp = target_web / ".source-stamp"
    source_stamp = (web_dir / ".dmt-build-stamp").read_text() if (web_dir / ".dmt-build-stamp").exists() else ""
    if not (stamp.exists() and stamp.read_text() == source_stamp):
        tmp = target_web.with_name(target_web.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(client, tmp / "build" / "client")
        for env_js in (tmp / "build" / "client" / "assets").glob("reflex-env-*.js"):
            text = env_js.read_text()
            env_js.write_text(text.replace(f"localhost:{built_port}/", f"localhost:{port}/"))
            for compressed in (env_js.with_name(env_js.name + ".gz"), env_js.with_name(env_js.name + ".br")):
                compressed.unlink(missing_ok=True)
        (tmp / ".source-stamp").write_text(source_stamp)
        shutil.rmtree(target_web, ignore_errors=True)
        tmp.rename(target_web)
    return target_web


def refuse_unsafe_settings(app_name: str) -> None:
    """Stop before serving when the settings are unusable (e.g. production on the development secrets)."""
    from core.settings import InsecureSettings, get_settings

    try:
        get_settings()
    except (InsecureSettings, ValueError) as exc:
        raise SystemExit(f"{app_name} refuses to start: {exc}") from None


def main() -> None:
    app_name, port, built_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    root = Path(__file__).resolve().parent.parent
    os.chdir(root)
    refuse_unsafe_settings(app_name)
    web_dir = root / os.environ.get("REFLEX_WEB_WORKDIR", f".web-{app_name}")
    serve_dir = prepare_static_dir(web_dir, port, built_port)
    os.environ["REFLEX_WEB_WORKDIR"] = str(serve_dir)
    os.environ["REFLEX_ENV_MODE"] = "prod"
    os.environ["REFLEX_SKIP_COMPILE"] = "true"
    os.environ["REFLEX_FRONTEND_PORT"] = str(port)
    os.environ["REFLEX_BACKEND_PORT"] = str(port)
    os.environ.setdefault("REFLEX_API_URL", f"http://localhost:{port}")

    from reflex.utils import exec as rx_exec
    from reflex_base import constants
    from reflex_base.config import get_config
    from reflex_base.environment import environment

    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)
    config = get_config()
    host = os.environ.get("PORTAL_HOST", config.backend_host or "0.0.0.0")
    print(f"{app_name}: serving http://localhost:{port} (UI + /api) from {serve_dir}", flush=True)
    rx_exec.run_backend_prod(host, port, config.loglevel.subprocess_level(), True)


if __name__ == "__main__":
    main()
