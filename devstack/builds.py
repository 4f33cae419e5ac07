"""`aftersales up`'s deployment step: this checkout's build becomes current, older builds are checked.

A local stack runs one worker, of the build of the code in the folder. Once it polls, `up` makes
that build current, so new cases start on it, and cases of an earlier build move onto it when they
next continue as new (docs/DEPLOY.md). Cases still pinned to a build that no worker polls would
wait for ever: `up` names them, with the ways out, and the cases of code before 1.0, which ran
on no build at all.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from runtime.deployment.server import POLLING_WITHIN, builds, set_current, wait_until_known

# A worker polls within seconds of starting; it imports the whole engine first.
_FIRST_POLL = timedelta(seconds=90)
# Open workflows of no build: started by the unversioned workers of code before 1.0.
UNVERSIONED = "ExecutionStatus = 'Running' AND TemporalWorkerDeploymentVersion IS NULL"
_HOME_HINT = "the stack's folder (AFTERSALES_HOME, .aftersales)"


async def put_in_service(
    address: str, namespace: str, task_queue: str, build: str, polling_within: timedelta = POLLING_WITHIN
) -> list[str]:
    """Make `build` current once its worker polls; answer what to tell the developer."""
    client = await Client.connect(address, namespace=namespace)
    await wait_until_known(client, build, _FIRST_POLL)
    previous = await set_current(client, build)
    lines = [f"build {build} is current" + (f" (was {previous})" if previous and previous != build else "")]
    for view in await builds(client, task_queue, polling_within):
        if view.build_id != build and view.open_workflows and not view.polled:
            lines.append(
                f"warning: {view.open_workflows} open workflow(s) are pinned to build {view.build_id}, "
                "which no worker polls: they continue when a worker of that build runs, or, once "
                f"`aftersales replay` passes on their histories, move to {build} with "
                "`temporal workflow update-options` (docs/DEPLOY.md, move a stuck case)"
            )
    unversioned = await client.count_workflows(UNVERSIONED)
    if unversioned.count:
        lines.append(
            f"warning: {unversioned.count} open workflow(s) were started before 1.0 by an unversioned "
            f"worker; build {build} cannot replay them: delete {_HOME_HINT} to start afresh"
        )
    return lines
