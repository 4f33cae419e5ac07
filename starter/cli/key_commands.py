"""`aftersales keys create|list|revoke`: the HTTP API's keys, kept hashed in PostgreSQL."""

from __future__ import annotations

import argparse
from typing import Any

from cases.actions.roles import Role
from runtime.errors import UserError
from runtime.settings import Settings
from starter.api.keys import KeyError_, KeyStore
from starter.cli.common import database_pool, print_json


def add_parsers(sub: Any) -> None:
    keys = sub.add_parser("keys", help="create, list and revoke the HTTP API's keys")
    what = keys.add_subparsers(dest="keys_command", required=True, parser_class=type(keys))
    create = what.add_parser("create", help="a new key; its secret is printed this once")
    create.add_argument("principal", help="who the key acts as, e.g. agent-li (recorded as the actor)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument(
        "--merchant", help="the merchant whose cases the key sees and acts on; without it, a platform key"
    )
    listing = what.add_parser("list", help="the keys, without their secrets")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    revoke = what.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id")


async def cmd_keys(args: argparse.Namespace, settings: Settings) -> None:
    async with database_pool(settings, needs="API key") as pool:
        store = KeyStore(pool)
        try:
            if args.keys_command == "create":
                created = await store.create(args.principal, args.role, args.merchant)
                print_json(created.model_dump(mode="json") | {"note": "the secret is shown only now"})
            elif args.keys_command == "list":
                print_json([k.model_dump(mode="json") for k in await store.list(include_revoked=args.all)])
            else:
                print_json((await store.revoke(args.key_id)).model_dump(mode="json"))
        except KeyError_ as err:
            raise UserError(str(err)) from err
