-- The run this journal belongs to: exactly one row.
CREATE TABLE run (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  run_id      TEXT    NOT NULL,
  job         TEXT    NOT NULL,
  fingerprint TEXT    NOT NULL,
  identity    TEXT    NOT NULL,
  total       INTEGER NOT NULL CHECK (total > 0),
  -- every item below the frontier is committed or claimed
  frontier    INTEGER NOT NULL DEFAULT 0,
  next_token  INTEGER NOT NULL DEFAULT 1,
  state       TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

-- The process that coordinates the run: at most one row.
CREATE TABLE owner (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  token      INTEGER NOT NULL,
  pid        INTEGER NOT NULL,
  host       TEXT    NOT NULL,
  since      INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);

-- Items leased to a worker and not yet committed. expires_at 0 = free to take.
CREATE TABLE claims (
  start      INTEGER PRIMARY KEY,
  end        INTEGER NOT NULL CHECK (end > start),
  worker     TEXT    NOT NULL,
  token      INTEGER NOT NULL UNIQUE,
  expires_at INTEGER NOT NULL
);
CREATE INDEX claims_by_expiry ON claims (expires_at, start);

-- Committed ranges: a row exists only once every file of the range is durable.
CREATE TABLE ranges (
  start        INTEGER PRIMARY KEY,
  end          INTEGER NOT NULL CHECK (end > start),
  files        TEXT    NOT NULL,
  item_hashes  BLOB    NOT NULL,
  committed_at INTEGER NOT NULL
);

CREATE TABLE events (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  at     INTEGER NOT NULL,
  type   TEXT    NOT NULL,
  detail TEXT    NOT NULL
);
