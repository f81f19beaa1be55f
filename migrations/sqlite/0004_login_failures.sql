-- Failed console sign-ins, shared by every replica so the throttle (5 per name and address within 15
-- minutes) holds however requests are balanced. Rows older than the window are pruned by the janitor.
CREATE TABLE login_failures (
    name      TEXT    NOT NULL,
    address   TEXT    NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE INDEX login_failures_by_key ON login_failures (name, address, failed_at);
CREATE INDEX login_failures_by_time ON login_failures (failed_at);
