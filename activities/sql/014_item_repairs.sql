-- The cases that name an item (the three guarantees count its earlier repairs, STANDARDS S15.3).
CREATE INDEX IF NOT EXISTS cases_item ON cases (merchant_id, (state -> 'order' ->> 'sku'), (state -> 'order' ->> 'serial'))
WHERE state -> 'order' ->> 'serial' IS NOT NULL;
