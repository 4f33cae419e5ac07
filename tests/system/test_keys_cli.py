"""`aftersales keys`: API keys from the command line, against the session's PostgreSQL."""

from __future__ import annotations

import json
import uuid

from activities.merchants import MerchantRegistry
from starter.api.keys import KeyStore
from tests.system.test_cli import assert_one_line_user_error, run_cli


def keys(dsn: str, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("keys", *args, env={"DATABASE_URL": dsn})


async def test_create_list_revoke_and_the_secret_is_shown_once(postgres_dsn: str, pool) -> None:  # type: ignore[no-untyped-def]
    created = keys(postgres_dsn, "create", "agent-cli-1", "--role", "agent")
    assert created.returncode == 0, created.stderr
    made = json.loads(created.stdout)
    secret, key_id = made["secret"], made["key"]["id"]
    assert secret.startswith(f"ak_{key_id}_") and made["key"]["role"] == "agent"
    assert (await KeyStore(pool).authenticate(secret)) is not None
    row = await pool.fetchrow("SELECT secret_hash FROM api_keys WHERE id = $1", key_id)
    assert secret.encode() not in bytes(row["secret_hash"])  # only the hash is stored

    listed = keys(postgres_dsn, "list")
    assert listed.returncode == 0 and secret not in listed.stdout and secret.split("_", 2)[2] not in listed.stdout
    assert key_id in {k["id"] for k in json.loads(listed.stdout)}

    revoked = keys(postgres_dsn, "revoke", key_id)
    assert revoked.returncode == 0 and json.loads(revoked.stdout)["revoked_at"]
    assert (await KeyStore(pool).authenticate(secret)) is None
    assert key_id not in {k["id"] for k in json.loads(keys(postgres_dsn, "list").stdout)}
    assert key_id in {k["id"] for k in json.loads(keys(postgres_dsn, "list", "--all").stdout)}


def test_bad_input_is_one_line_exit_2(postgres_dsn: str, pool) -> None:  # type: ignore[no-untyped-def]
    assert_one_line_user_error(keys(postgres_dsn, "create", "agent-x", "--role", "boss"), "role")
    assert_one_line_user_error(keys(postgres_dsn, "create", "has spaces", "--role", "agent"), "principal")
    assert_one_line_user_error(keys(postgres_dsn, "create", "x" * 80, "--role", "agent"), "principal")
    assert_one_line_user_error(keys(postgres_dsn, "revoke", "nosuchkey"), "no such key")


async def test_a_key_belongs_to_a_registered_merchant_or_to_the_platform(postgres_dsn: str, pool) -> None:  # type: ignore[no-untyped-def]
    merchant = f"keys-{uuid.uuid4().hex[:8]}"
    await MerchantRegistry(pool).add(merchant, "Keys Shop")
    own = json.loads(keys(postgres_dsn, "create", "agent-m", "--role", "agent", "--merchant", merchant).stdout)
    platform = json.loads(keys(postgres_dsn, "create", "agent-p", "--role", "agent").stdout)
    assert (own["key"]["merchant_id"], platform["key"]["merchant_id"]) == (merchant, None)
    assert (await KeyStore(pool).authenticate(own["secret"])).merchant_id == merchant  # type: ignore[union-attr]
    assert_one_line_user_error(
        keys(postgres_dsn, "create", "agent-x", "--role", "agent", "--merchant", "never-registered"), "merchant_id: "
    )
    assert_one_line_user_error(
        keys(postgres_dsn, "create", "agent-x", "--role", "agent", "--merchant", "Bad Id"), "merchant_id: "
    )
    assert_one_line_user_error(
        keys(postgres_dsn, "create", "judge-x", "--role", "arbiter", "--merchant", merchant), "role: an arbiter"
    )
