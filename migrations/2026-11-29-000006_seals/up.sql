-- Seals: enterprise seals and personal seals, each a record the platform
-- signs (owner, kind, name, image hash, certificate, validity) in the
-- spirit of GB/T 38540, so a swapped image is detected; and who may use them.

CREATE TABLE seals (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    enterprise_id uuid REFERENCES enterprises (id) ON DELETE CASCADE,
    owner_user_id uuid REFERENCES users (id) ON DELETE RESTRICT,
    kind text NOT NULL CHECK (kind IN ('OFFICIAL', 'CONTRACT', 'LEGAL_REPRESENTATIVE', 'FINANCE',
        'DATE', 'PERSONAL_NAME', 'HANDWRITTEN')),
    name text NOT NULL,
    status text NOT NULL DEFAULT 'ENABLED' CHECK (status IN ('ENABLED', 'DISABLED', 'VOIDED')),
    image_file_id uuid NOT NULL REFERENCES files (id),
    image_sha256 text NOT NULL,
    certificate_id uuid REFERENCES certificates (id),
    valid_from timestamptz NOT NULL,
    valid_until timestamptz,
    record_signature bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT seals_one_owner CHECK (num_nonnulls(enterprise_id, owner_user_id) = 1)
);
CREATE INDEX seals_enterprise_id_idx ON seals (enterprise_id);
CREATE INDEX seals_owner_user_id_idx ON seals (owner_user_id);
CREATE INDEX seals_image_file_id_idx ON seals (image_file_id);
CREATE INDEX seals_certificate_id_idx ON seals (certificate_id);

-- Grants hang off the membership: a member who leaves loses them with it.
CREATE TABLE seal_grants (
    seal_id uuid NOT NULL REFERENCES seals (id) ON DELETE CASCADE,
    enterprise_id uuid NOT NULL,
    user_id uuid NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (seal_id, user_id),
    FOREIGN KEY (enterprise_id, user_id) REFERENCES memberships (enterprise_id, user_id) ON DELETE CASCADE
);
CREATE INDEX seal_grants_member_idx ON seal_grants (enterprise_id, user_id);
