"""`aftersales merchants add|list|show|rename|plan|policy`: the platform's merchant registry in PostgreSQL.

An operator's tool for platform staff, like the rest of the CLI; merchants use the HTTP API.
"""

from __future__ import annotations

import argparse
from typing import Any

from activities.merchants import DEFAULT_MERCHANT, DEFAULT_PLAN, MerchantError, MerchantRegistry, Plan
from cases.policy.snapshot import PolicyError, load_policy
from runtime.errors import UserError
from runtime.settings import Settings
from starter.cli.common import database_pool, print_json, read_source

_PLAN_HELP = "basic, standard or premium: weighs the merchant's turn when cases wait for a worker"


def add_parsers(sub: Any) -> None:
    merchants = sub.add_parser("merchants", help="register the merchants whose cases the platform runs")
    what = merchants.add_subparsers(dest="merchants_command", required=True, parser_class=type(merchants))
    add = what.add_parser("add", help="register a merchant")
    add.add_argument("merchant_id", help="1-32 lower-case letters, digits or '-', e.g. acme")
    add.add_argument("--name", required=True, help="the merchant's display name")
    add.add_argument("--plan", choices=[p.value for p in Plan], default=DEFAULT_PLAN.value, help=_PLAN_HELP)
    what.add_parser("list", help="every registered merchant")
    show = what.add_parser("show", help="one merchant")
    show.add_argument("merchant_id")
    rename = what.add_parser("rename", help="change a merchant's display name")
    rename.add_argument("merchant_id")
    rename.add_argument("--name", required=True)
    plan = what.add_parser("plan", help="change a merchant's plan: its share of the workers under load")
    plan.add_argument("merchant_id")
    plan.add_argument("plan", choices=[p.value for p in Plan], help=_PLAN_HELP)
    policy = what.add_parser(
        "policy", help="the merchant's own policy file, laid over the platform's (never looser than it)"
    )
    policy.add_argument("merchant_id")
    policy.add_argument("file", nargs="?", metavar="FILE.toml|-", help="the platform file's keys the merchant sets")
    policy.add_argument("--clear", action="store_true", help="back to the platform's policy")


async def cmd_merchants(args: argparse.Namespace, settings: Settings) -> None:
    async with database_pool(settings, needs="merchant registry") as pool:
        registry = MerchantRegistry(pool)
        try:
            if args.merchants_command == "add":
                added = await registry.add(args.merchant_id, args.name, Plan(args.plan))
                print_json(added.model_dump(mode="json"))
            elif args.merchants_command == "list":
                print_json([m.model_dump(mode="json") for m in await registry.listing()])
            elif args.merchants_command == "show":
                found = await registry.require(args.merchant_id)
                print_json(found.model_dump(mode="json") | {"policy": await registry.policy_text(found.merchant_id)})
            elif args.merchants_command == "plan":
                print_json((await registry.set_plan(args.merchant_id, Plan(args.plan))).model_dump(mode="json"))
            elif args.merchants_command == "policy":
                await _policy(args, settings, registry)
            else:
                print_json((await registry.rename(args.merchant_id, args.name)).model_dump(mode="json"))
        except (MerchantError, PolicyError) as err:
            raise UserError(str(err)) from err


async def _policy(args: argparse.Namespace, settings: Settings, registry: MerchantRegistry) -> None:
    if args.clear == (args.file is not None):
        raise UserError("give the policy FILE (or - for standard input), or --clear")
    merchant = (await registry.require(args.merchant_id)).merchant_id
    if merchant == DEFAULT_MERCHANT:
        raise UserError("merchant_id: the default merchant runs on the platform's policy file itself")
    text = None if args.clear else read_source(args.file)
    await registry.set_policy(merchant, text, load_policy(settings.policy_path))
    print_json({"merchant_id": merchant, "policy": "platform" if text is None else "its own, over the platform's"})
