"""Connecting to Temporal with the project's one data converter."""

from __future__ import annotations

from temporalio.client import Client

from temporalio.converter import DataConverter

from starter.settings import Settings
from workflows.codec import parse_keys
from workflows.converter import data_converter


def converter_for(settings: Settings) -> DataConverter:
    spec = settings.codec_key_spec()
    return data_converter(parse_keys(spec) if spec else None)


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=converter_for(settings),
    )
