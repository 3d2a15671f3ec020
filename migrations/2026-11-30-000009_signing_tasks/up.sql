-- Signing tasks (签署任务): a batch makes one task per employee row; a task
-- has its signers (enterprises by role, the row's person), one document per
-- template, CC'd users. Contract quota is a ledger beside the balance it
-- sums to; every debit names the task it pays for, once.

CREATE TABLE frequent_contacts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    enterprise_id uuid NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 30),
    phone text NOT NULL CHECK (phone ~ '^1[3-9][0-9]{9}$'),
    enterprise_name text CHECK (char_length(enterprise_name) BETWEEN 1 AND 60),
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT frequent_contacts_phone_key UNIQUE (enterprise_id, phone)
);
CREATE INDEX frequent_contacts_created_by_idx ON frequent_contacts (created_by);

CREATE TABLE signing_batches (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    enterprise_id uuid NOT NULL REFERENCES enterprises (id) ON DELETE RESTRICT,
    business_type_id uuid NOT NULL,
    title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 100),
    initiated_by uuid NOT NULL REFERENCES users (id),
    -- A retried initiation returns this batch; another input under the same
    -- key is refused (the SHA-256 of the canonical input tells them apart).
    idempotency_key text CHECK (char_length(idempotency_key) BETWEEN 1 AND 100),
    input_sha256 text NOT NULL,
    task_count integer NOT NULL CHECK (task_count BETWEEN 1 AND 5000),
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (enterprise_id, business_type_id) REFERENCES business_types (enterprise_id, id),
    CONSTRAINT signing_batches_idempotency_key UNIQUE (initiated_by, idempotency_key)
);
CREATE INDEX signing_batches_enterprise_idx ON signing_batches (enterprise_id, business_type_id);

CREATE TABLE signing_tasks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    batch_id uuid NOT NULL REFERENCES signing_batches (id) ON DELETE RESTRICT,
    row_number integer NOT NULL CHECK (row_number >= 1),
    enterprise_id uuid NOT NULL REFERENCES enterprises (id) ON DELETE RESTRICT,
    business_type_id uuid NOT NULL,
    title text NOT NULL,
    confidential boolean NOT NULL,
    status text NOT NULL DEFAULT 'IN_PROGRESS' CHECK (status IN ('IN_PROGRESS', 'COMPLETED', 'VOIDED')),
    void_reason text CHECK (void_reason IN ('EXPIRED', 'REVOKED', 'REFUSED')),
    void_note text,
    initiated_by uuid NOT NULL REFERENCES users (id),
    handler_id uuid REFERENCES users (id),
    sign_order text NOT NULL CHECK (sign_order IN ('UNORDERED', 'SEQUENTIAL')),
    deadline timestamptz,
    add_page_qr_codes boolean NOT NULL,
    -- Field key -> value of this row, sealed (AES-256-GCM): ID numbers.
    values_enc bytea NOT NULL,
    signer_completed_field_keys text[] NOT NULL DEFAULT '{}',
    -- Set when every document is filled; signers hear of the task then.
    ready_at timestamptz,
    fill_attempts integer NOT NULL DEFAULT 0,
    fill_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    FOREIGN KEY (enterprise_id, business_type_id) REFERENCES business_types (enterprise_id, id),
    CONSTRAINT signing_tasks_row UNIQUE (batch_id, row_number),
    CONSTRAINT signing_tasks_voided CHECK ((status = 'VOIDED') = (void_reason IS NOT NULL))
);
CREATE INDEX signing_tasks_enterprise_idx ON signing_tasks (enterprise_id, business_type_id, created_at DESC);
CREATE INDEX signing_tasks_initiated_by_idx ON signing_tasks (initiated_by);
CREATE INDEX signing_tasks_handler_id_idx ON signing_tasks (handler_id);
CREATE INDEX signing_tasks_unfilled_idx ON signing_tasks (created_at) WHERE ready_at IS NULL AND fill_error IS NULL;

CREATE TABLE task_signers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id uuid NOT NULL REFERENCES signing_tasks (id) ON DELETE CASCADE,
    position integer NOT NULL,
    kind text NOT NULL CHECK (kind IN ('ENTERPRISE', 'PERSON')),
    role_key text NOT NULL,
    role_name text NOT NULL,
    step integer NOT NULL CHECK (step BETWEEN 1 AND 20),
    can_refuse boolean NOT NULL,
    status text NOT NULL DEFAULT 'WAITING' CHECK (status IN ('WAITING', 'PENDING', 'SIGNED', 'REFUSED')),
    enterprise_id uuid REFERENCES enterprises (id),
    cross_page_seal_id uuid REFERENCES seals (id),
    -- A person: who the row named; user_id once an account is known.
    user_id uuid REFERENCES users (id),
    person_name text,
    person_phone text,
    person_id_number_hash bytea,
    signed_at timestamptz,
    refused_at timestamptz,
    refuse_reason text,
    CONSTRAINT task_signers_role UNIQUE (task_id, role_key),
    CONSTRAINT task_signers_kind CHECK (
        (kind = 'ENTERPRISE' AND enterprise_id IS NOT NULL AND person_phone IS NULL)
        OR (kind = 'PERSON' AND enterprise_id IS NULL AND person_phone IS NOT NULL
            AND person_name IS NOT NULL AND cross_page_seal_id IS NULL))
);
CREATE INDEX task_signers_enterprise_idx ON task_signers (enterprise_id, status);
CREATE INDEX task_signers_user_idx ON task_signers (user_id, status);
CREATE INDEX task_signers_phone_idx ON task_signers (person_phone) WHERE user_id IS NULL;
CREATE INDEX task_signers_cross_page_seal_id_idx ON task_signers (cross_page_seal_id);

CREATE TABLE task_documents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id uuid NOT NULL REFERENCES signing_tasks (id) ON DELETE CASCADE,
    position integer NOT NULL,
    template_id uuid NOT NULL REFERENCES templates (id),
    name text NOT NULL,
    status text NOT NULL DEFAULT 'IN_PROGRESS' CHECK (status IN ('IN_PROGRESS', 'COMPLETED', 'VOIDED')),
    -- The filled contract, then each signed revision; null until filled.
    file_id uuid REFERENCES files (id),
    page_count integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_documents_position UNIQUE (task_id, position)
);
CREATE INDEX task_documents_template_id_idx ON task_documents (template_id);
CREATE INDEX task_documents_file_id_idx ON task_documents (file_id);

CREATE TABLE task_cc (
    task_id uuid NOT NULL REFERENCES signing_tasks (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id),
    PRIMARY KEY (task_id, user_id)
);
CREATE INDEX task_cc_user_id_idx ON task_cc (user_id);

CREATE TABLE quota_balances (
    enterprise_id uuid PRIMARY KEY REFERENCES enterprises (id) ON DELETE CASCADE,
    balance integer NOT NULL DEFAULT 0 CHECK (balance >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE quota_ledger (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    enterprise_id uuid NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('GRANT', 'PURCHASE', 'CONSUME', 'REFUND')),
    amount integer NOT NULL CHECK (amount <> 0),
    task_id uuid REFERENCES signing_tasks (id) ON DELETE RESTRICT,
    note text,
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT quota_ledger_task CHECK ((kind IN ('CONSUME', 'REFUND')) = (task_id IS NOT NULL)),
    CONSTRAINT quota_ledger_sign CHECK ((kind = 'CONSUME') = (amount < 0))
);
CREATE INDEX quota_ledger_enterprise_idx ON quota_ledger (enterprise_id, created_at);
CREATE UNIQUE INDEX quota_ledger_consume_once ON quota_ledger (task_id) WHERE kind = 'CONSUME';
CREATE UNIQUE INDEX quota_ledger_refund_once ON quota_ledger (task_id) WHERE kind = 'REFUND';
CREATE INDEX quota_ledger_created_by_idx ON quota_ledger (created_by);
