"""`aftersales webhooks add|list|remove|deliveries`: outbound webhook subscriptions in PostgreSQL."""

from __future__ import annotations

import argparse
from typing import Any

from activities.webhooks.subscriptions import (
    MAX_DELIVERIES,
    SubscriptionError,
    WebhookSubscriptions,
    valid_event_types,
    valid_url,
)
from runtime.errors import UserError
from runtime.settings import Settings
from starter.cli.common import database_pool, print_json


def add_parsers(sub: Any) -> None:
    hooks = sub.add_parser("webhooks", help="subscribe backends to case events over signed HTTP webhooks")
    what = hooks.add_subparsers(dest="webhooks_command", required=True, parser_class=type(hooks))
    add = what.add_parser("add", help="a new subscription; its signing secret is printed this once")
    add.add_argument("url", help="where to POST each event (http:// or https://)")
    add.add_argument("--merchant", help="hear only this merchant's cases; without it, every merchant's")
    add.add_argument("--events", required=True,
                     help="audit event types, comma-separated (e.g. opened,clock_breached,closed), or *")
    listing = what.add_parser("list", help="the subscriptions, without their secrets")
    listing.add_argument("--all", action="store_true", help="include removed subscriptions")
    remove = what.add_parser("remove", help="stop a subscription and cancel its pending deliveries")
    remove.add_argument("subscription_id")
    history = what.add_parser("deliveries", help="delivery history, newest first")
    history.add_argument("--case", help="only this case's deliveries")
    history.add_argument("--limit", type=int, default=50, help=f"at most this many (1-{MAX_DELIVERIES}, default 50)")


async def cmd_webhooks(args: argparse.Namespace, settings: Settings) -> None:
    try:
        _check(args)
    except SubscriptionError as err:
        raise UserError(str(err)) from err
    async with database_pool(settings, needs="webhook") as pool:
        store = WebhookSubscriptions(pool)
        try:
            if args.webhooks_command == "add":
                created = await store.add(args.url, args.events, args.merchant)
                print_json(created.model_dump(mode="json") | {"note": "the secret is shown only now"})
            elif args.webhooks_command == "list":
                print_json([s.model_dump(mode="json") for s in await store.subscriptions(include_removed=args.all)])
            elif args.webhooks_command == "remove":
                print_json((await store.remove(args.subscription_id)).model_dump(mode="json"))
            else:
                found = await store.deliveries(case_id=args.case, limit=args.limit)
                print_json([d.model_dump(mode="json") for d in found])
        except SubscriptionError as err:
            raise UserError(str(err)) from err


def _check(args: argparse.Namespace) -> None:
    # Bad input is refused before any database is opened (or, without DATABASE_URL, started).
    if args.webhooks_command == "add":
        valid_url(args.url)
        valid_event_types(args.events)
    elif args.webhooks_command == "deliveries" and not 1 <= args.limit <= MAX_DELIVERIES:
        raise SubscriptionError(f"--limit must be between 1 and {MAX_DELIVERIES}")
