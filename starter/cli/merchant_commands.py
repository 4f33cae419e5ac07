"""`aftersales merchants add|list|show|rename`: the platform's merchant registry in PostgreSQL.

An operator's tool for platform staff, like the rest of the CLI; merchants use the HTTP API.
"""

from __future__ import annotations

import argparse
from typing import Any

from activities.merchants import MerchantError, MerchantRegistry
from runtime.errors import UserError
from runtime.settings import Settings
from starter.cli.common import database_pool, print_json


def add_parsers(sub: Any) -> None:
    merchants = sub.add_parser("merchants", help="register the merchants whose cases the platform runs")
    what = merchants.add_subparsers(dest="merchants_command", required=True, parser_class=type(merchants))
    add = what.add_parser("add", help="register a merchant")
    add.add_argument("merchant_id", help="1-32 lower-case letters, digits or '-', e.g. acme")
    add.add_argument("--name", required=True, help="the merchant's display name")
    what.add_parser("list", help="every registered merchant")
    show = what.add_parser("show", help="one merchant")
    show.add_argument("merchant_id")
    rename = what.add_parser("rename", help="change a merchant's display name")
    rename.add_argument("merchant_id")
    rename.add_argument("--name", required=True)


async def cmd_merchants(args: argparse.Namespace, settings: Settings) -> None:
    async with database_pool(settings, needs="merchant registry") as pool:
        registry = MerchantRegistry(pool)
        try:
            if args.merchants_command == "add":
                print_json((await registry.add(args.merchant_id, args.name)).model_dump(mode="json"))
            elif args.merchants_command == "list":
                print_json([m.model_dump(mode="json") for m in await registry.listing()])
            elif args.merchants_command == "show":
                print_json((await registry.require(args.merchant_id)).model_dump(mode="json"))
            else:
                print_json((await registry.rename(args.merchant_id, args.name)).model_dump(mode="json"))
        except MerchantError as err:
            raise UserError(str(err)) from err
