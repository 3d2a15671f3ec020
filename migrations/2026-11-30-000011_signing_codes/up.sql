-- Intent codes (意愿认证) for signing: one live code per task and person
-- acting on it, single use, five minutes, a few tries.
CREATE TABLE signing_codes (
    task_id uuid NOT NULL REFERENCES signing_tasks (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    phone text NOT NULL,
    code_hash bytea NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL,
    consumed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, user_id)
);
CREATE INDEX signing_codes_user_id_idx ON signing_codes (user_id);
