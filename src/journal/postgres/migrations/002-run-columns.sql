-- What a run is, as columns of the run rather than read from its identity or its event log.
-- Runs recorded before this migration get them from their history (migrate.ts, store/oldRunColumns.ts).
ALTER TABLE longhaul.runs
  -- a map job's items, a loop's steps, or a supervised program
  ADD COLUMN kind         text NOT NULL DEFAULT 'map' CHECK (kind IN ('map', 'loop', 'exec')),
  -- a bucket URL where the run's shards go; NULL: the shared folder's data/
  ADD COLUMN shards_at    text,
  -- a loop's final state's sha256, recorded as it completes
  ADD COLUMN final_digest text;
