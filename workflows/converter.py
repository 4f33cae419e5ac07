"""The one data converter used by the client, the worker, the test environments and the Replayer.

Payloads are plain JSON produced from the pydantic models, so services in other languages can
start and read cases. Keeping it in one place means a codec added later reaches every user.
"""

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter


def data_converter() -> DataConverter:
    return pydantic_data_converter
