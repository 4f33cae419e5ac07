-- A merchant's plan (cases/plans.py): the weight of its fairness key when the workers are
-- saturated. The names are the only copy in SQL of cases.plans.Plan.
ALTER TABLE merchants ADD COLUMN IF NOT EXISTS plan text NOT NULL DEFAULT 'standard'
    CHECK (plan IN ('basic', 'standard', 'premium'));
