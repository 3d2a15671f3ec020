-- Enterprises, their certification orders, members and business types, and
-- the metadata of stored files (the bytes live in the content-addressed store).

CREATE TABLE files (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    name text NOT NULL,
    content_type text NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    created_by uuid REFERENCES users (id) ON DELETE RESTRICT,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_created_by_idx ON files (created_by);

CREATE TABLE enterprises (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    uscc text NOT NULL,
    address text,
    legal_rep_name text NOT NULL,
    legal_rep_id_enc bytea NOT NULL,
    legal_rep_id_masked text NOT NULL,
    legal_rep_phone text NOT NULL,
    status text NOT NULL DEFAULT 'CERTIFYING'
        CHECK (status IN ('CERTIFYING', 'CERTIFIED', 'RECERTIFICATION_REQUIRED')),
    certificate_kind text NOT NULL CHECK (certificate_kind IN ('CLOUD', 'UKEY')),
    created_at timestamptz NOT NULL DEFAULT now(),
    certified_at timestamptz
);
-- Many may apply for one USCC; only one enterprise with it gets certified.
CREATE UNIQUE INDEX enterprises_uscc_certified_key ON enterprises (uscc) WHERE status <> 'CERTIFYING';

-- Each enterprise's audit chain belongs to it.
ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_chain_fkey
    FOREIGN KEY (chain) REFERENCES enterprises (id) ON DELETE RESTRICT;

CREATE TABLE memberships (
    enterprise_id uuid NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    role text NOT NULL CHECK (role IN ('ADMIN', 'MEMBER')),
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, user_id)
);
CREATE INDEX memberships_user_id_idx ON memberships (user_id);
CREATE UNIQUE INDEX memberships_one_admin_key ON memberships (enterprise_id) WHERE role = 'ADMIN';

CREATE TABLE business_types (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    enterprise_id uuid NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT business_types_name_key UNIQUE (enterprise_id, name)
);

ALTER TABLE certificates ADD COLUMN enterprise_id uuid REFERENCES enterprises (id) ON DELETE RESTRICT;
CREATE INDEX certificates_enterprise_id_idx ON certificates (enterprise_id);

CREATE TABLE certificate_orders (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    enterprise_id uuid NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    applicant_id uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    kind text NOT NULL CHECK (kind IN ('NEW', 'RENEWAL', 'RECERTIFICATION', 'ADMIN_CHANGE')),
    method text NOT NULL CHECK (method IN ('CORPORATE_PAYMENT', 'LEGAL_REP_PHONE', 'LEGAL_REP_BANK_CARD')),
    status text NOT NULL CHECK (status IN ('DRAFT', 'AWAITING_AUTHORIZATION', 'AWAITING_MATERIALS',
        'AWAITING_CONFIRMATION', 'REVIEWING', 'REJECTED', 'APPROVED', 'REVOKED')),
    certificate_kind text NOT NULL CHECK (certificate_kind IN ('CLOUD', 'UKEY')),
    csr_pem text,
    seal_kinds text[] NOT NULL,
    handler_name text NOT NULL,
    handler_id_enc bytea NOT NULL,
    handler_id_masked text NOT NULL,
    handler_phone text NOT NULL,
    handler_email text NOT NULL,
    legal_rep_bank_card_masked text,
    -- CORPORATE_PAYMENT: HMAC of the amount (fen) the applicant must report
    payment_mac bytea,
    authorization_attempts integer NOT NULL DEFAULT 0,
    authorization_letter_id uuid REFERENCES files (id),
    business_license_id uuid REFERENCES files (id),
    handler_id_front_id uuid REFERENCES files (id),
    handler_id_back_id uuid REFERENCES files (id),
    reject_reason text,
    certificate_id uuid REFERENCES certificates (id),
    decided_by uuid REFERENCES users (id),
    decided_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificate_orders_enterprise_id_idx ON certificate_orders (enterprise_id);
CREATE INDEX certificate_orders_applicant_id_idx ON certificate_orders (applicant_id);
CREATE INDEX certificate_orders_reviewing_idx ON certificate_orders (updated_at) WHERE status = 'REVIEWING';
CREATE INDEX certificate_orders_authorization_letter_id_idx ON certificate_orders (authorization_letter_id);
CREATE INDEX certificate_orders_business_license_id_idx ON certificate_orders (business_license_id);
CREATE INDEX certificate_orders_handler_id_front_id_idx ON certificate_orders (handler_id_front_id);
CREATE INDEX certificate_orders_handler_id_back_id_idx ON certificate_orders (handler_id_back_id);
CREATE INDEX certificate_orders_certificate_id_idx ON certificate_orders (certificate_id);
CREATE INDEX certificate_orders_decided_by_idx ON certificate_orders (decided_by);
