-- Accounts: people, their sessions, one-time codes, captchas, login throttling,
-- real-name evidence, UKey challenges, and the outgoing message outbox.

CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    phone text NOT NULL,
    password_hash text,
    email text,
    name text,
    id_type text,
    -- AES-256-GCM under the master key; lookups go through the keyed hash.
    id_number_enc bytea,
    id_number_hash bytea,
    id_number_masked text,
    real_name_status text NOT NULL DEFAULT 'UNVERIFIED'
        CHECK (real_name_status IN ('UNVERIFIED', 'PENDING', 'VERIFIED', 'FAILED')),
    real_name_verified_at timestamptz,
    ukey_fingerprint text,
    ukey_certificate_pem text,
    agreements_accepted_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_phone_key UNIQUE (phone),
    CONSTRAINT users_ukey_fingerprint_key UNIQUE (ukey_fingerprint),
    CONSTRAINT users_verified_identity_complete CHECK (
        real_name_status <> 'VERIFIED'
        OR (name IS NOT NULL AND id_type IS NOT NULL AND id_number_enc IS NOT NULL
            AND id_number_hash IS NOT NULL AND real_name_verified_at IS NOT NULL))
);
-- One verified account per identity document.
CREATE UNIQUE INDEX users_id_number_hash_key ON users (id_number_hash)
    WHERE real_name_status = 'VERIFIED';

CREATE TABLE platform_roles (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('OPERATOR', 'REGULATOR')),
    region text,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role)
);

CREATE TABLE sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    client_ip text,
    user_agent text,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- One live code per (phone, purpose); a resend replaces it.
CREATE TABLE sms_codes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    phone text NOT NULL,
    purpose text NOT NULL,
    code_hash bytea NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    consumed_at timestamptz,
    CONSTRAINT sms_codes_phone_purpose_key UNIQUE (phone, purpose)
);

-- Every code sent, kept for the per-phone and per-IP send limits.
CREATE TABLE sms_code_sends (
    id bigserial PRIMARY KEY,
    phone text NOT NULL,
    client_ip text NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sms_code_sends_phone_idx ON sms_code_sends (phone, sent_at);
CREATE INDEX sms_code_sends_ip_idx ON sms_code_sends (client_ip, sent_at);

CREATE TABLE captchas (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    answer_hash bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX captchas_expires_at_idx ON captchas (expires_at);

-- Failed password logins per phone (registered or not, so the lockout
-- does not tell which phones exist).
CREATE TABLE login_failures (
    id bigserial PRIMARY KEY,
    phone text NOT NULL,
    client_ip text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_phone_idx ON login_failures (phone, failed_at);

CREATE TABLE certificate_challenges (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    nonce bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificate_challenges_expires_at_idx ON certificate_challenges (expires_at);

-- Evidence of every identity check, kept whatever its result.
CREATE TABLE identity_checks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method text NOT NULL CHECK (method IN ('FACE', 'BANK_CARD_4', 'CARRIER_3')),
    status text NOT NULL CHECK (status IN ('PENDING', 'VERIFIED', 'FAILED')),
    id_type text NOT NULL,
    name text NOT NULL,
    id_number_enc bytea NOT NULL,
    id_number_hash bytea NOT NULL,
    id_number_masked text NOT NULL,
    email text,
    bank_card_masked text,
    provider text NOT NULL,
    provider_ref text NOT NULL,
    failure_reason text,
    client_ip text NOT NULL,
    user_agent text,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    CONSTRAINT identity_checks_provider_ref_key UNIQUE (provider, provider_ref)
);
CREATE INDEX identity_checks_user_id_idx ON identity_checks (user_id);

-- Transactional outbox for SMS: written in the same transaction as the change
-- that causes the message, delivered and retried by the outbox job.
CREATE TABLE sms_outbox (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    phone text NOT NULL,
    body text NOT NULL,
    -- bodies carrying codes are blanked once a real gateway took them
    sensitive boolean NOT NULL DEFAULT false,
    -- a message still undelivered by then is dropped (codes that expired)
    expires_at timestamptz,
    status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX sms_outbox_pending_idx ON sms_outbox (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX sms_outbox_phone_idx ON sms_outbox (phone, created_at);

CREATE TABLE email_outbox (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    recipient text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX email_outbox_pending_idx ON email_outbox (next_attempt_at) WHERE status = 'PENDING';
