-- Append-only, hash-chained audit log. Each chain (one per enterprise, one
-- for the platform) links every row to the one before it:
-- hash = SHA-256(prev_hash || canonical row).

CREATE TABLE audit_logs (
    id bigserial PRIMARY KEY,
    -- the enterprise whose log this is; NULL for the platform's own log
    -- (its foreign key comes with the enterprises table)
    chain uuid,
    at timestamptz NOT NULL,
    actor_user_id uuid REFERENCES users (id) ON DELETE RESTRICT,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text,
    details jsonb NOT NULL,
    client_ip text,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    CONSTRAINT audit_logs_hash_key UNIQUE (hash)
);
CREATE INDEX audit_logs_chain_idx ON audit_logs (chain, id);
CREATE INDEX audit_logs_actor_user_id_idx ON audit_logs (actor_user_id);

CREATE FUNCTION audit_logs_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_logs_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only();

CREATE TRIGGER audit_logs_no_truncate
    BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_append_only();
