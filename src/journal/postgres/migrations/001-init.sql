-- One database holds many runs; every row below belongs to one run (run_id).
-- Indices, counts, tokens and times are bigint: times are milliseconds since
-- the epoch given by the caller, never the server's clock.

-- Fencing tokens for owner leases and claims: unique across runs, taken
-- without locking any row (a sequence is outside transactions).
CREATE SEQUENCE longhaul.tokens;

CREATE TABLE longhaul.runs (
  run_id      text   PRIMARY KEY,
  job         text   NOT NULL,
  fingerprint text   NOT NULL,
  identity    text   NOT NULL,
  total       bigint NOT NULL CHECK (total > 0),
  -- every item below the frontier is committed or claimed
  frontier    bigint NOT NULL DEFAULT 0,
  state       text   NOT NULL CHECK (state IN ('running', 'complete', 'failed', 'interrupted')),
  created_at  bigint NOT NULL,
  updated_at  bigint NOT NULL
);

-- The process that coordinates a run: at most one row per run.
CREATE TABLE longhaul.owners (
  run_id     text    PRIMARY KEY REFERENCES longhaul.runs ON DELETE CASCADE,
  token      bigint  NOT NULL,
  pid        integer NOT NULL,
  host       text    NOT NULL,
  since      bigint  NOT NULL,
  expires_at bigint  NOT NULL
);

-- Items [start, stop) leased to a worker and not yet committed. expires_at 0 = free to take.
CREATE TABLE longhaul.claims (
  run_id     text   NOT NULL REFERENCES longhaul.runs ON DELETE CASCADE,
  start      bigint NOT NULL,
  stop       bigint NOT NULL CHECK (stop > start),
  worker     text   NOT NULL,
  token      bigint NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (run_id, start),
  UNIQUE (run_id, token)
);
CREATE INDEX claims_by_expiry ON longhaul.claims (run_id, expires_at, start);
CREATE INDEX claims_by_worker ON longhaul.claims (run_id, worker);

-- Committed ranges [start, stop): a row exists only once every file of the range is durable.
CREATE TABLE longhaul.ranges (
  run_id       text   NOT NULL REFERENCES longhaul.runs ON DELETE CASCADE,
  start        bigint NOT NULL,
  stop         bigint NOT NULL CHECK (stop > start),
  -- [{name, bytes, sha256}], as the committer gave it
  files        json   NOT NULL,
  -- 32 bytes per item, in index order
  item_hashes  bytea  NOT NULL CHECK (octet_length(item_hashes) = (stop - start) * 32),
  committed_at bigint NOT NULL,
  PRIMARY KEY (run_id, start)
);

CREATE TABLE longhaul.events (
  id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id text   NOT NULL REFERENCES longhaul.runs ON DELETE CASCADE,
  at     bigint NOT NULL,
  type   text   NOT NULL,
  detail json   NOT NULL
);
CREATE INDEX events_by_run ON longhaul.events (run_id, id);
