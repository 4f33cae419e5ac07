"""Connecting to Temporal with the project's one data converter."""

from __future__ import annotations

from temporalio.client import Client

from starter.settings import Settings
from workflows.converter import data_converter


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(),
    )
