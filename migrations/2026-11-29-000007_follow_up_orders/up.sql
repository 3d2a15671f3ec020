-- Orders after certification (renewal, recertification after a name change,
-- an administrator change), certificate expiry reminders, handwritten
-- signature capture, and the field catalogue of business types.

-- Follow-up orders take the applicant's own account as the handler, whose
-- email may be unset.
ALTER TABLE certificate_orders ALTER COLUMN handler_email DROP NOT NULL;
ALTER TABLE certificate_orders ADD COLUMN new_name text;
ALTER TABLE certificate_orders ADD COLUMN renews_certificate_id uuid REFERENCES certificates (id);
ALTER TABLE certificate_orders ADD CONSTRAINT certificate_orders_new_name_check
    CHECK ((kind = 'RECERTIFICATION') = (new_name IS NOT NULL));
ALTER TABLE certificate_orders ADD CONSTRAINT certificate_orders_renews_check
    CHECK ((kind = 'RENEWAL') = (renews_certificate_id IS NOT NULL));
CREATE INDEX certificate_orders_renews_certificate_id_idx ON certificate_orders (renews_certificate_id);
-- One open follow-up order of each kind per enterprise.
CREATE UNIQUE INDEX certificate_orders_open_follow_up_key ON certificate_orders (enterprise_id, kind)
    WHERE kind <> 'NEW' AND status NOT IN ('APPROVED', 'REVOKED');

-- The weekly reminder claims a certificate by moving this forward.
ALTER TABLE certificates ADD COLUMN expiry_reminded_at timestamptz;
CREATE INDEX certificates_unrevoked_not_after_idx ON certificates (not_after)
    WHERE revoked_at IS NULL AND enterprise_id IS NOT NULL;

-- A one-time link for capturing a handwritten signature on a phone; only
-- the SHA-256 of its token is kept.
CREATE TABLE signature_captures (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    seal_id uuid REFERENCES seals (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signature_captures_user_id_idx ON signature_captures (user_id);
CREATE INDEX signature_captures_seal_id_idx ON signature_captures (seal_id);

-- Fields a template can place. Public rows (enterprise_id NULL) form the
-- catalogue of the default business types, by name ('*': the fields of any
-- business type without a catalogue of its own); enterprise rows are custom
-- fields, for one business type or (business_type_id NULL) for all.
CREATE TABLE field_definitions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    enterprise_id uuid REFERENCES enterprises (id) ON DELETE CASCADE,
    business_type_id uuid REFERENCES business_types (id) ON DELETE CASCADE,
    catalogue text,
    key text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{1,39}$'),
    label text NOT NULL CHECK (char_length(label) BETWEEN 1 AND 30),
    field_type text NOT NULL CHECK (field_type IN ('TEXT', 'NUMBER', 'DATE', 'ID_NUMBER', 'PHONE', 'MONEY')),
    required_in_template boolean NOT NULL DEFAULT false,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT field_definitions_public_or_custom CHECK (
        (enterprise_id IS NULL AND catalogue IS NOT NULL AND business_type_id IS NULL)
        OR (enterprise_id IS NOT NULL AND catalogue IS NULL AND NOT required_in_template))
);
CREATE UNIQUE INDEX field_definitions_public_key ON field_definitions (catalogue, key) WHERE enterprise_id IS NULL;
CREATE UNIQUE INDEX field_definitions_custom_key ON field_definitions (enterprise_id, key) WHERE enterprise_id IS NOT NULL;
CREATE INDEX field_definitions_business_type_id_idx ON field_definitions (business_type_id);

-- What a labor contract needs (劳动合同法 art. 17), and what the other
-- default business types need.
INSERT INTO field_definitions (catalogue, key, label, field_type, required_in_template, position)
SELECT c.catalogue, f.key, f.label, f.field_type, f.required AND c.strict, f.position
FROM (VALUES ('劳动合同', true), ('劳务派遣合同', true)) AS c (catalogue, strict)
CROSS JOIN (VALUES
    ('employer_name', '用人单位名称', 'TEXT', true, 1),
    ('employer_uscc', '统一社会信用代码', 'TEXT', false, 2),
    ('employer_address', '用人单位住所', 'TEXT', true, 3),
    ('employer_legal_rep', '法定代表人', 'TEXT', true, 4),
    ('employee_name', '劳动者姓名', 'TEXT', true, 5),
    ('employee_id_type', '证件类型', 'TEXT', false, 6),
    ('employee_id_number', '证件号码', 'ID_NUMBER', true, 7),
    ('employee_phone', '联系电话', 'PHONE', false, 8),
    ('employee_address', '劳动者住址', 'TEXT', true, 9),
    ('contract_type', '合同期限类型', 'TEXT', true, 10),
    ('start_date', '合同开始日期', 'DATE', true, 11),
    ('end_date', '合同终止日期', 'DATE', false, 12),
    ('probation_end_date', '试用期截止日期', 'DATE', false, 13),
    ('job_title', '工作岗位', 'TEXT', true, 14),
    ('work_location', '工作地点', 'TEXT', true, 15),
    ('working_hours', '工时制度', 'TEXT', true, 16),
    ('monthly_pay', '月工资', 'MONEY', true, 17),
    ('pay_day', '工资支付日', 'NUMBER', false, 18),
    ('social_insurance', '社会保险', 'TEXT', true, 19),
    ('signing_date', '签订日期', 'DATE', false, 20)
) AS f (key, label, field_type, required, position);

INSERT INTO field_definitions (catalogue, key, label, field_type, required_in_template, position)
SELECT c.catalogue, f.key, f.label, f.field_type, false, f.position
FROM (VALUES ('入职'), ('离职'), ('*')) AS c (catalogue)
CROSS JOIN (VALUES
    ('employer_name', '用人单位名称', 'TEXT', 1),
    ('employee_name', '劳动者姓名', 'TEXT', 2),
    ('employee_id_number', '证件号码', 'ID_NUMBER', 3),
    ('employee_phone', '联系电话', 'PHONE', 4),
    ('signing_date', '签订日期', 'DATE', 5)
) AS f (key, label, field_type, position);

INSERT INTO field_definitions (catalogue, key, label, field_type, required_in_template, position) VALUES
    ('入职', 'job_title', '工作岗位', 'TEXT', false, 6),
    ('入职', 'start_date', '入职日期', 'DATE', false, 7),
    ('离职', 'leave_date', '离职日期', 'DATE', false, 6),
    ('离职', 'leave_reason', '离职原因', 'TEXT', false, 7);
