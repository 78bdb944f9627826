-- What a committed range's items reported with ctx.usage, written in the same transaction as the range.
-- A table of its own, not columns of ranges: a column after item_hashes is read by walking the blob's overflow pages.
CREATE TABLE range_usage (
  start        INTEGER PRIMARY KEY REFERENCES ranges (start) ON DELETE CASCADE,
  -- {"tokens": 812, "usd": 0.0012}: the attempts that made the items; NULL: none reported
  usage        TEXT,
  -- the same, of attempts that then threw (retried or rate limited)
  failed_usage TEXT
);
