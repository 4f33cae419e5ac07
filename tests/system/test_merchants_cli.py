"""`aftersales merchants`: platform staff register merchants from the command line."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from typing import Any

import asyncpg
import pytest

from tests.system.test_cli import ROOT, _env, assert_one_line_user_error

UNREACHABLE_TEMPORAL = "127.0.0.1:1"


@pytest.fixture
def merchants(pool: asyncpg.Pool, postgres_dsn: str) -> Any:
    async def run(*args: str) -> subprocess.CompletedProcess[str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "starter.cli", "merchants", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=_env(UNREACHABLE_TEMPORAL, "aftersales", {"DATABASE_URL": postgres_dsn}), cwd=ROOT,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode is not None
        return subprocess.CompletedProcess(list(args), proc.returncode, out.decode(), err.decode())

    return run


async def test_a_merchant_is_added_then_listed_and_shown(merchants: Any) -> None:
    merchant = f"shop-{uuid.uuid4().hex[:8]}"
    added = await merchants("add", merchant, "--name", "Shop 一号")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["name"] == "Shop 一号"
    listing, shown = await asyncio.gather(merchants("list"), merchants("show", merchant))
    assert {"default", merchant} <= {m["merchant_id"] for m in json.loads(listing.stdout)}
    assert json.loads(shown.stdout)["merchant_id"] == merchant
    assert json.loads(shown.stdout)["plan"] == "standard"
    moved = await merchants("plan", merchant, "premium")
    assert moved.returncode == 0, moved.stderr
    assert json.loads((await merchants("show", merchant)).stdout)["plan"] == "premium"
    basic = await merchants("add", f"{merchant}-b", "--name", "Shop B", "--plan", "basic")
    assert json.loads(basic.stdout)["plan"] == "basic"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("add", "Not-Lower", "--name", "x"), "merchant_id"),
        (("add", "ok-id", "--name", " "), "name"),
        (("show", "never-added-merchant"), "merchant_id"),
        (("plan", "never-added-merchant", "premium"), "merchant_id"),
        (("plan", "ok-id", "gold"), "plan"),
    ],
)
async def test_a_bad_command_exits_2_with_one_line_naming_the_field(
    merchants: Any, args: tuple[str, ...], field: str
) -> None:
    assert_one_line_user_error(await merchants(*args), f"{field}: ")


async def test_a_merchant_policy_is_stored_and_a_looser_one_refused_naming_the_key(
    merchants: Any, tmp_path: Any
) -> None:
    merchant = f"shop-{uuid.uuid4().hex[:8]}"
    assert (await merchants("add", merchant, "--name", "Shop")).returncode == 0
    stricter, looser = tmp_path / "stricter.toml", tmp_path / "looser.toml"
    stricter.write_text('[targets.general]\nfirst_response = "4h"\n[returns]\naddress = "Shop Returns, 1 Road"\n')
    looser.write_text('[returns]\nwindow = "3d"\n')
    stored = await merchants("policy", merchant, str(stricter))
    assert stored.returncode == 0, stored.stderr
    assert_one_line_user_error(await merchants("policy", merchant, str(looser)), "returns.window: ", "looser")
    shown = json.loads((await merchants("show", merchant)).stdout)
    assert shown["policy"] == stricter.read_text()  # the refused file changed nothing
    assert (await merchants("policy", merchant, "--clear")).returncode == 0
    assert json.loads((await merchants("show", merchant)).stdout)["policy"] is None
    assert_one_line_user_error(await merchants("policy", "default", str(stricter)), "merchant_id: ")
