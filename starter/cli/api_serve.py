"""`aftersales api`: build the HTTP API over the engine's services and serve it with uvicorn."""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvicorn

from activities.db import create_pool
from cases.actions.roles import Role
from cases.policy.snapshot import load_policy
from devstack.database import database_url_or_embedded
from runtime.errors import ServiceError
from runtime.log import get_logger
from runtime.settings import Settings
from starter.api.app import create_app
from starter.api.config import ApiSettings
from starter.api.keys import KeyStore
from starter.api.services import Services
from starter.api.signing import SigningKeys
from starter.cli.common import case_client

log = get_logger("aftersales.api")


async def serve(args: argparse.Namespace, settings: Settings) -> None:
    api = ApiSettings.from_env(os.environ)
    policy = load_policy(settings.policy_path)
    with database_url_or_embedded(settings) as db:
        if args.local_keys is not None:
            await _ensure_local_keys(db.dsn, args.local_keys)

        async def build() -> tuple[Services, Callable[[], Awaitable[None]]]:
            cases = await case_client(settings)
            cases._policy = policy
            try:
                pool = await create_pool(db.dsn, max_size=10)
            except OSError as err:
                raise ServiceError(f"cannot reach PostgreSQL: {err}") from err
            signing = await SigningKeys.load(pool)
            return Services(cases=cases, pool=pool, api=api, signing=signing, policy=policy), pool.close

        config = uvicorn.Config(
            create_app(build), host=api.host, port=api.port, log_config=None, access_log=False,
            server_header=False, timeout_graceful_shutdown=5,
        )
        log.info("API listening", address=f"http://{api.host}:{api.port}")
        await uvicorn.Server(config).serve()


async def _ensure_local_keys(dsn: str, path: Path) -> None:
    """One key per role for the local stack, kept in `path`; kept keys still valid are reused."""
    pool = await create_pool(dsn, max_size=1)
    try:
        store = KeyStore(pool)
        kept = _read_env(path)
        lines = []
        for role in Role:
            name = f"AFTERSALES_KEY_{role.value.upper()}"
            secret = kept.get(name)
            if secret is None or await store.authenticate(secret) is None:
                secret = (await store.create(f"local-{role.value}", role)).secret
            lines.append(f"export {name}={secret}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("# API keys of the local stack, one per role: source this file.\n" + "\n".join(lines) + "\n")
    finally:
        await pool.close()


def _read_env(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        name, sep, value = line.removeprefix("export ").partition("=")
        if sep:
            found[name.strip()] = value.strip()
    return found
