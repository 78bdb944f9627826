-- What a run is, as columns of the run rather than read from its identity or its event log.
-- A run recorded before this migration gets them from its history (migrate.ts, store/oldRunColumns.ts).
-- a map job's items, a loop's steps, or a supervised program
ALTER TABLE run ADD COLUMN kind TEXT NOT NULL DEFAULT 'map' CHECK (kind IN ('map', 'loop', 'exec'));
-- a bucket URL where the run's shards go; NULL: the run folder's data/
ALTER TABLE run ADD COLUMN shards_at TEXT;
-- a loop's final state's sha256, recorded as it completes
ALTER TABLE run ADD COLUMN final_digest TEXT;
