"""`aftersales up`'s deployment step: this checkout's build becomes current, older builds are checked.

A local stack runs one worker, of the build of the code in the folder. Once it polls, `up` makes
that build current, so new cases start on it, and cases of an earlier build move onto it when they
next continue as new (docs/DEPLOY.md). Cases still pinned to a build that no worker polls would
wait for ever: `up` names them, with the ways out.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from runtime.deployment.server import builds, set_current, wait_until_known

# A worker polls within seconds of starting; it imports the whole engine first.
_FIRST_POLL = timedelta(seconds=90)


async def put_in_service(address: str, namespace: str, task_queue: str, build: str) -> list[str]:
    """Make `build` current once its worker polls; answer what to tell the developer."""
    client = await Client.connect(address, namespace=namespace)
    await wait_until_known(client, build, _FIRST_POLL)
    previous = await set_current(client, build)
    lines = [f"build {build} is current" + (f" (was {previous})" if previous and previous != build else "")]
    for view in await builds(client, task_queue):
        if view.build_id != build and view.open_workflows and not view.polled:
            lines.append(
                f"warning: {view.open_workflows} open workflow(s) are pinned to build {view.build_id}, "
                "which no worker polls: they continue when a worker of that build runs, or move to "
                f"{build} with `temporal workflow update-options` (docs/DEPLOY.md, moving a stuck case)"
            )
    return lines
