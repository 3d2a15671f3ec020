DROP TABLE template_seal_slots;
DROP TABLE template_field_boxes;
DROP TABLE template_fields;
DROP TABLE template_roles;
DROP TABLE templates;
ALTER TABLE business_types DROP CONSTRAINT business_types_enterprise_id_id_key;
