-- The roster (STANDARDS S12.3): teams, agents, and where every routed case is. A case's row in
-- case_routing is the truth about its seat: `assigned` rows are an agent's load, `queued` rows
-- are the team's queue. Every change takes the team's row lock first, so assignment decisions for
-- a team are serialised across any number of workers, and `seq` grows with each change of a
-- case's row, so a case can tell a late answer from a newer one.

CREATE TABLE roster_teams (
    name        text PRIMARY KEY,
    skills      text[]      NOT NULL DEFAULT '{}',
    hours       text,                               -- '09:00-18:00' on working days; NULL: always
    lead        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE roster_agents (
    agent_id          text PRIMARY KEY,
    team              text        NOT NULL REFERENCES roster_teams (name),
    skills            text[]      NOT NULL DEFAULT '{}',
    capacity          integer     NOT NULL CHECK (capacity >= 0),
    presence          text        NOT NULL DEFAULT 'available'
                      CHECK (presence IN ('available', 'away', 'offline')),
    last_assigned_at  timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX roster_agents_team ON roster_agents (team);

CREATE TABLE case_routing (
    case_id           text PRIMARY KEY,
    workflow_id       text        NOT NULL,
    team              text        NOT NULL,
    agent_id          text,
    status            text        NOT NULL CHECK (status IN ('queued', 'assigned', 'released')),
    requirement       jsonb       NOT NULL,
    priority          integer     NOT NULL,
    excluded          text[]      NOT NULL DEFAULT '{}',
    manual            boolean     NOT NULL DEFAULT false,
    queued_at         timestamptz,
    first_queued_at   timestamptz,
    assigned_at       timestamptz,
    first_assigned_at timestamptz,
    released_at       timestamptz,
    queue_seconds     double precision NOT NULL DEFAULT 0,
    seq               integer     NOT NULL DEFAULT 1,
    CHECK ((status = 'assigned') = (agent_id IS NOT NULL))
);
CREATE INDEX case_routing_queue ON case_routing (team, priority, queued_at) WHERE status = 'queued';
CREATE INDEX case_routing_load ON case_routing (agent_id) WHERE status = 'assigned';

-- Every assignment, with the agent's load and capacity at that moment: the proof that nobody
-- was given more than they can hold.
CREATE TABLE routing_log (
    id          bigserial PRIMARY KEY,
    case_id     text        NOT NULL,
    team        text        NOT NULL,
    agent_id    text        NOT NULL,
    load_after  integer     NOT NULL,
    capacity    integer     NOT NULL,
    manual      boolean     NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX routing_log_case ON routing_log (case_id);

-- Every answer the roster gave, by the request's idempotency key. A workflow task that times out
-- after the roster committed is run again, and must get the same answer to decide the same way
-- (its audit events carry the same sequence numbers and are written only once).
CREATE TABLE routing_answers (
    key         text PRIMARY KEY,
    result      jsonb       NOT NULL,
    answered_at timestamptz NOT NULL DEFAULT now()
);
