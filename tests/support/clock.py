"""Moving the time-skipping server's clock, with room for a loaded machine.

`WorkflowEnvironment.sleep` makes its RPC with the client's default deadline; the server answers
only once every workflow it holds is idle at the new time, which on a busy 2-core machine can
take longer than that deadline. The skip itself is virtual: the wait bounds real time only.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.testservice.v1 import SleepRequest
from temporalio.testing import WorkflowEnvironment

SKIP_DEADLINE = timedelta(minutes=3)


async def skip(env: WorkflowEnvironment, duration: timedelta) -> None:
    request = SleepRequest()
    request.duration.FromTimedelta(duration)
    await env.client.test_service.unlock_time_skipping_with_sleep(request, timeout=SKIP_DEADLINE)
