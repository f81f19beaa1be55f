-- Failed console sign-ins, shared by every replica so the throttle (5 per name and address within 15
-- minutes) holds however requests are balanced. Rows older than the window are pruned by the janitor.
CREATE TABLE login_failures (
    name      VARCHAR(128) NOT NULL,
    address   VARCHAR(64)  NOT NULL,
    failed_at BIGINT       NOT NULL,
    KEY login_failures_by_key (name, address, failed_at),
    KEY login_failures_by_time (failed_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
