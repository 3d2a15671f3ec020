-- The newest hash of each audit chain, one row per chain. An append locks
-- its chain's row (appends to one chain queue there), links to the hash it
-- holds, and moves it on in the statement that inserts the new row.
-- Verification checks that every chain ends at its head, so a tail removed
-- behind the triggers' back is found as well.
CREATE TABLE audit_chain_heads (
    -- the enterprise's id; the nil UUID for the platform's own log
    chain uuid PRIMARY KEY,
    hash bytea NOT NULL
);

INSERT INTO audit_chain_heads (chain, hash)
SELECT DISTINCT ON (chain) chain, hash
FROM (
    SELECT coalesce(chain, '00000000-0000-0000-0000-000000000000') AS chain, id, hash
    FROM audit_logs
) AS rows
ORDER BY chain, id DESC;
