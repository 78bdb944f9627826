-- What a committed range's items reported with ctx.usage, written in the same transaction as the range.
CREATE TABLE longhaul.range_usage (
  run_id       text   NOT NULL,
  start        bigint NOT NULL,
  -- {"tokens": 812, "usd": 0.0012}: the attempts that made the items; NULL: none reported
  usage        jsonb,
  -- the same, of attempts that then threw (retried or rate limited)
  failed_usage jsonb,
  PRIMARY KEY (run_id, start),
  FOREIGN KEY (run_id, start) REFERENCES longhaul.ranges (run_id, start) ON DELETE CASCADE
);
