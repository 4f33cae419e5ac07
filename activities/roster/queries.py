"""The roster's SQL, apart from the Python that sequences it (activities/roster/postgres.py)."""

LOCK_TEAMS = (
    "SELECT name, skills, hours, lead, merchant_id FROM roster_teams WHERE name = ANY($1::text[])"
    " ORDER BY name FOR UPDATE"
)
TEAM = "SELECT name, skills, hours, lead, merchant_id FROM roster_teams WHERE name = $1"
AGENT = "SELECT agent_id, team, capacity FROM roster_agents WHERE agent_id = $1"
ROW = "SELECT * FROM case_routing WHERE case_id = $1"
ROW_FOR_UPDATE = "SELECT * FROM case_routing WHERE case_id = $1 FOR UPDATE"

SEATS = """
SELECT a.agent_id, a.skills, a.capacity, a.presence, a.last_assigned_at,
       (SELECT count(*) FROM case_routing r WHERE r.agent_id = a.agent_id AND r.status = 'assigned')::int AS load
FROM roster_agents a WHERE a.team = $1 ORDER BY a.agent_id
"""
LOAD = "SELECT count(*)::int FROM case_routing WHERE agent_id = $1 AND status = 'assigned'"
QUEUE = """
SELECT case_id, requirement, priority, queued_at, excluded FROM case_routing
WHERE team = $1 AND status = 'queued' ORDER BY priority, queued_at, case_id
"""

ENQUEUE = """
INSERT INTO case_routing (case_id, workflow_id, team, status, requirement, priority, excluded,
                          queued_at, first_queued_at, seq)
VALUES ($1, $2, $3, 'queued', $4::jsonb, $5, $6::text[], $7, $7, 1)
RETURNING *
"""
REQUEUE = """
UPDATE case_routing SET status = 'queued', agent_id = NULL, excluded = $2::text[], queued_at = $3,
    first_queued_at = COALESCE(first_queued_at, $3),
    manual = false, seq = seq + 1
WHERE case_id = $1 RETURNING *
"""
# Reclassified into another team: the case leaves its old team (and seat) for the new queue.
MOVE = """
UPDATE case_routing SET status = 'queued', team = $2, agent_id = NULL, queued_at = $3,
    first_queued_at = COALESCE(first_queued_at, $3), manual = false, seq = seq + 1
WHERE case_id = $1 RETURNING *
"""
SET_EXCLUDED = "UPDATE case_routing SET excluded = $2::text[] WHERE case_id = $1 RETURNING *"
ASSIGN = """
UPDATE case_routing SET status = 'assigned', agent_id = $2, team = $3, manual = $4,
    assigned_at = $5, first_assigned_at = COALESCE(first_assigned_at, $5),
    queue_seconds = queue_seconds + COALESCE(EXTRACT(EPOCH FROM ($5 - queued_at)), 0),
    queued_at = NULL, seq = seq + 1
WHERE case_id = $1 RETURNING *
"""
INSERT_ASSIGNED = """
INSERT INTO case_routing (case_id, workflow_id, team, agent_id, status, requirement, priority,
                          manual, assigned_at, first_assigned_at, seq)
VALUES ($1, $2, $3, $4, 'assigned', $5::jsonb, $6, true, $7, $7, 1)
RETURNING *
"""
RELEASE = """
UPDATE case_routing SET status = 'released', agent_id = NULL, released_at = $2,
    queue_seconds = queue_seconds + COALESCE(EXTRACT(EPOCH FROM ($2 - queued_at)), 0),
    queued_at = NULL, seq = seq + 1
WHERE case_id = $1 RETURNING *
"""
TOUCH_AGENT = "UPDATE roster_agents SET last_assigned_at = $2 WHERE agent_id = $1"
LOG = """
INSERT INTO routing_log (case_id, team, agent_id, load_after, capacity, manual, at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""

UPSERT_TEAM = """
INSERT INTO roster_teams (name, skills, hours, lead, merchant_id) VALUES ($1, $2::text[], $3, $4, $5)
ON CONFLICT (name) DO UPDATE SET skills = EXCLUDED.skills, hours = EXCLUDED.hours, lead = EXCLUDED.lead,
    merchant_id = EXCLUDED.merchant_id
"""
UPSERT_AGENT = """
INSERT INTO roster_agents (agent_id, team, skills, capacity, presence) VALUES ($1, $2, $3::text[], $4, $5)
ON CONFLICT (agent_id) DO UPDATE SET team = EXCLUDED.team, skills = EXCLUDED.skills,
    capacity = EXCLUDED.capacity, presence = EXCLUDED.presence, updated_at = now()
"""
SET_PRESENCE = "UPDATE roster_agents SET presence = $2, updated_at = now() WHERE agent_id = $1 RETURNING team"
SET_CAPACITY = "UPDATE roster_agents SET capacity = $2, updated_at = now() WHERE agent_id = $1 RETURNING team"
TEAMS = """
SELECT t.name, t.skills, t.hours, t.lead, t.merchant_id,
       (SELECT count(*) FROM case_routing r WHERE r.team = t.name AND r.status = 'queued')::int AS queued
FROM roster_teams t ORDER BY t.name
"""
AGENTS = """
SELECT a.agent_id, a.team, a.skills, a.capacity, a.presence,
       (SELECT count(*) FROM case_routing r WHERE r.agent_id = a.agent_id AND r.status = 'assigned')::int AS load
FROM roster_agents a ORDER BY a.team, a.agent_id
"""
# Assignments the case has not recorded yet (its notice was lost): sent again by `roster drain`.
UNHEARD = """
SELECT r.* FROM case_routing r LEFT JOIN cases c USING (case_id)
WHERE r.status = 'assigned' AND (r.team = $1 OR $1 IS NULL)
  AND (c.state IS NULL OR c.state->'routing' IS NULL
       OR COALESCE((c.state->'routing'->>'seq')::int, 0) < r.seq)
"""

ANSWER = "SELECT result FROM routing_answers WHERE key = $1"
KEEP_ANSWER = "INSERT INTO routing_answers (key, result) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO NOTHING"
