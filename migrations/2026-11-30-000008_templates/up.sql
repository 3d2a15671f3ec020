-- Contract templates (模板管理): a PDF of the enterprise's, its signer roles,
-- where field values go and where each role stamps. A template belongs to
-- one business type of its enterprise (the composite key makes a template
-- of another enterprise's type impossible). Published templates never
-- change: their layout rows are written only while the template is DRAFT.

ALTER TABLE business_types ADD CONSTRAINT business_types_enterprise_id_id_key UNIQUE (enterprise_id, id);

CREATE TABLE templates (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    enterprise_id uuid NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    business_type_id uuid NOT NULL,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 60),
    status text NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT', 'PUBLISHED', 'DISABLED')),
    file_id uuid NOT NULL REFERENCES files (id),
    -- Page sizes in points, page 1 first.
    page_widths real[] NOT NULL,
    page_heights real[] NOT NULL,
    copied_from_id uuid REFERENCES templates (id) ON DELETE SET NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    FOREIGN KEY (enterprise_id, business_type_id) REFERENCES business_types (enterprise_id, id),
    CONSTRAINT templates_pages CHECK (
        cardinality(page_widths) BETWEEN 1 AND 200
        AND cardinality(page_widths) = cardinality(page_heights)),
    CONSTRAINT templates_published CHECK ((status = 'DRAFT') = (published_at IS NULL))
);
CREATE INDEX templates_enterprise_created_idx ON templates (enterprise_id, created_at DESC, id DESC);
CREATE INDEX templates_business_type_idx ON templates (enterprise_id, business_type_id);
CREATE INDEX templates_file_id_idx ON templates (file_id);
CREATE INDEX templates_copied_from_id_idx ON templates (copied_from_id);
CREATE INDEX templates_created_by_idx ON templates (created_by);

CREATE TABLE template_roles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id uuid NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    key text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 40),
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 30),
    kind text NOT NULL CHECK (kind IN ('ENTERPRISE', 'PERSON')),
    position integer NOT NULL,
    CONSTRAINT template_roles_key UNIQUE (template_id, key),
    -- Lets placements and slots name a role of their own template only.
    CONSTRAINT template_roles_template_id_id_key UNIQUE (template_id, id)
);

-- One set of properties per field and template: a field placed in several
-- boxes is drawn the same way in all of them.
CREATE TABLE template_fields (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id uuid NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    field_id uuid NOT NULL REFERENCES field_definitions (id),
    font_size real NOT NULL CHECK (font_size BETWEEN 6 AND 72),
    required boolean NOT NULL,
    date_format text,
    filled_by_role_id uuid,
    CONSTRAINT template_fields_field UNIQUE (template_id, field_id),
    CONSTRAINT template_fields_template_id_id_key UNIQUE (template_id, id),
    FOREIGN KEY (template_id, filled_by_role_id) REFERENCES template_roles (template_id, id)
);
CREATE INDEX template_fields_field_id_idx ON template_fields (field_id);
CREATE INDEX template_fields_filled_by_idx ON template_fields (template_id, filled_by_role_id);

-- Boxes: PDF points, origin at the page's top-left corner, y downwards.
CREATE TABLE template_field_boxes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id uuid NOT NULL,
    template_field_id uuid NOT NULL,
    page integer NOT NULL CHECK (page >= 1),
    x real NOT NULL CHECK (x >= 0),
    y real NOT NULL CHECK (y >= 0),
    width real NOT NULL CHECK (width > 0),
    height real NOT NULL CHECK (height > 0),
    position integer NOT NULL,
    FOREIGN KEY (template_id, template_field_id) REFERENCES template_fields (template_id, id) ON DELETE CASCADE
);
CREATE INDEX template_field_boxes_field_idx ON template_field_boxes (template_id, template_field_id);

CREATE TABLE template_seal_slots (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id uuid NOT NULL,
    role_id uuid NOT NULL,
    seal_kind text NOT NULL CHECK (seal_kind IN ('OFFICIAL', 'CONTRACT', 'LEGAL_REPRESENTATIVE',
        'FINANCE', 'DATE', 'PERSONAL_NAME', 'HANDWRITTEN')),
    page integer NOT NULL CHECK (page >= 1),
    x real NOT NULL CHECK (x >= 0),
    y real NOT NULL CHECK (y >= 0),
    position integer NOT NULL,
    FOREIGN KEY (template_id, role_id) REFERENCES template_roles (template_id, id) ON DELETE CASCADE
);
CREATE INDEX template_seal_slots_role_idx ON template_seal_slots (template_id, role_id);
