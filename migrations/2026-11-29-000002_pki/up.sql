-- The platform's own CA and timestamping keys, and the certificates it issues.

CREATE TABLE platform_keys (
    purpose text NOT NULL CHECK (purpose IN ('ROOT', 'ISSUING', 'TSA')),
    algorithm text NOT NULL CHECK (algorithm IN ('ECDSA_P256', 'SM2')),
    certificate_der bytea NOT NULL,
    -- PKCS#8, AES-256-GCM under the master key
    private_key_enc bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (purpose, algorithm)
);

CREATE TABLE certificates (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    serial_hex text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('CLOUD', 'UKEY')),
    algorithm text NOT NULL CHECK (algorithm IN ('ECDSA_P256', 'SM2')),
    -- a person's certificate; enterprise certificates get their owner column
    -- with the enterprises table
    user_id uuid REFERENCES users (id) ON DELETE RESTRICT,
    subject text NOT NULL,
    issuer text NOT NULL,
    certificate_der bytea NOT NULL,
    -- CLOUD only: PKCS#8, AES-256-GCM under the master key
    private_key_enc bytea,
    not_before timestamptz NOT NULL,
    not_after timestamptz NOT NULL,
    revoked_at timestamptz,
    revocation_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT certificates_serial_key UNIQUE (serial_hex),
    CONSTRAINT certificates_cloud_key_held CHECK ((kind = 'CLOUD') = (private_key_enc IS NOT NULL))
);
CREATE INDEX certificates_user_id_idx ON certificates (user_id);
CREATE INDEX certificates_revoked_idx ON certificates (algorithm, revoked_at) WHERE revoked_at IS NOT NULL;
