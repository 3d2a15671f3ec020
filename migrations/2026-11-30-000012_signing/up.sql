-- Signing (签署). Each signTask is an attempt, recorded before any PDF is
-- touched: which signer, with which certificate, what goes where (sealed:
-- it holds the values a signer completed). The signed revisions are put
-- in the blob store by their hash and noted on the attempt (SIGNED); the
-- new document versions, the signer's state, the evidence and the events
-- then commit together (APPLIED). A retry with the same intent code finds
-- its attempt; a job finishes attempts a crash left behind.

CREATE TABLE signing_attempts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id uuid NOT NULL REFERENCES signing_tasks (id) ON DELETE CASCADE,
    signer_id uuid NOT NULL REFERENCES task_signers (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id),
    -- The MAC of the intent code (never the code): a retry sends it again.
    code_mac bytea NOT NULL,
    status text NOT NULL DEFAULT 'PREPARED'
        CHECK (status IN ('PREPARED', 'SIGNED', 'APPLIED', 'ABANDONED')),
    plan_enc bytea NOT NULL,
    certificate_id uuid NOT NULL REFERENCES certificates (id),
    client_ip text NOT NULL,
    user_agent text,
    -- Per document: the version signed over and the signed one (hashes).
    revisions jsonb,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT signing_attempts_code UNIQUE (task_id, user_id, code_mac)
);
CREATE INDEX signing_attempts_open_idx ON signing_attempts (updated_at)
    WHERE status IN ('PREPARED', 'SIGNED');
CREATE INDEX signing_attempts_signer_id_idx ON signing_attempts (signer_id);
CREATE INDEX signing_attempts_user_id_idx ON signing_attempts (user_id);
CREATE INDEX signing_attempts_certificate_id_idx ON signing_attempts (certificate_id);

-- One row per signature: a signer signs a document once.
CREATE TABLE signature_evidence (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    attempt_id uuid NOT NULL REFERENCES signing_attempts (id) ON DELETE CASCADE,
    task_id uuid NOT NULL REFERENCES signing_tasks (id) ON DELETE CASCADE,
    signer_id uuid NOT NULL REFERENCES task_signers (id) ON DELETE CASCADE,
    document_id uuid NOT NULL REFERENCES task_documents (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id),
    code_mac bytea NOT NULL,
    client_ip text NOT NULL,
    user_agent text,
    sha256_before text NOT NULL,
    sha256_after text NOT NULL,
    certificate_serial text NOT NULL,
    signed_at timestamptz NOT NULL,
    CONSTRAINT signature_evidence_once UNIQUE (signer_id, document_id)
);
CREATE INDEX signature_evidence_task_idx ON signature_evidence (task_id);
CREATE INDEX signature_evidence_attempt_id_idx ON signature_evidence (attempt_id);
CREATE INDEX signature_evidence_document_id_idx ON signature_evidence (document_id);
CREATE INDEX signature_evidence_user_id_idx ON signature_evidence (user_id);

-- Set when the last signer signed; the task is COMPLETED once every
-- document has its document timestamp and LTV data (a job finishes what a
-- crash interrupted).
ALTER TABLE signing_tasks ADD COLUMN all_signed_at timestamptz;
CREATE INDEX signing_tasks_completing_idx ON signing_tasks (all_signed_at)
    WHERE status = 'IN_PROGRESS' AND all_signed_at IS NOT NULL;

-- Completed contracts for the labour regulator, queued in the transaction
-- that completes the task; the regulator issue delivers them.
CREATE TABLE regulator_reports (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id uuid NOT NULL REFERENCES signing_tasks (id) ON DELETE RESTRICT,
    enterprise_id uuid NOT NULL REFERENCES enterprises (id) ON DELETE RESTRICT,
    status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    CONSTRAINT regulator_reports_task_key UNIQUE (task_id)
);
CREATE INDEX regulator_reports_pending_idx ON regulator_reports (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX regulator_reports_enterprise_id_idx ON regulator_reports (enterprise_id);
