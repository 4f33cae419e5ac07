-- What `aftersales whatif` reads per batch of cases (reports/whatif/query.py), by index rather
-- than by walking the whole of routing_answers, which grows by a row or more per case for as
-- long as the engine runs. Building them holds off the roster's writes to routing_answers
-- until they are built: apply it at a quiet time.

-- A case's own answers: their keys are `case_id:n`, and the what-if looks them up by case.
CREATE INDEX routing_answers_case ON routing_answers (split_part(key, ':', 1));

-- The notices a case heard: the answers to other cases' calls whose `drained` names it, found
-- by containment (`result->'drained' @> '[{"case_id": ...}]'`). Without the pending list
-- (fastupdate) every lookup reads the index alone, not also each answer written since the last
-- vacuum; one more index entry per drained case on each roster answer costs little.
CREATE INDEX routing_answers_drained ON routing_answers
    USING gin ((result->'drained') jsonb_path_ops) WITH (fastupdate = off);
