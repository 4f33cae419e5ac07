"""The one data converter used by the client, the worker, the test environments and the Replayer.

Payloads are JSON produced from the pydantic models, so services in other languages can start
and read cases; when codec keys are configured, the encryption codec wraps them. Building it in
one place means the CLI, the worker and a replay can never disagree on how payloads look.
"""

import dataclasses
from collections.abc import Mapping

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from workflows.codec import EncryptionCodec


def data_converter(keys: Mapping[str, bytes] | None = None, *, compress: bool = False) -> DataConverter:
    """`compress` is for workers only (workflows/codec.py)."""
    if not keys:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keys, compress=compress))
