-- Applications to join enterprises, and the business types each member may
-- see and act in (seal grants come with the seals).

CREATE TABLE join_applications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    enterprise_id uuid NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    applicant_id uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    reason text NOT NULL,
    status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED')),
    decision_reason text,
    decided_by uuid REFERENCES users (id) ON DELETE RESTRICT,
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz
);
CREATE UNIQUE INDEX join_applications_one_pending_key ON join_applications (enterprise_id, applicant_id)
    WHERE status = 'PENDING';
CREATE INDEX join_applications_enterprise_id_idx ON join_applications (enterprise_id, status);
CREATE INDEX join_applications_applicant_id_idx ON join_applications (applicant_id);
CREATE INDEX join_applications_decided_by_idx ON join_applications (decided_by);

CREATE TABLE member_business_types (
    enterprise_id uuid NOT NULL,
    user_id uuid NOT NULL,
    business_type_id uuid NOT NULL REFERENCES business_types (id) ON DELETE CASCADE,
    PRIMARY KEY (enterprise_id, user_id, business_type_id),
    FOREIGN KEY (enterprise_id, user_id) REFERENCES memberships (enterprise_id, user_id) ON DELETE CASCADE
);
CREATE INDEX member_business_types_business_type_id_idx ON member_business_types (business_type_id);
