DROP TABLE certificate_orders;
DROP INDEX certificates_enterprise_id_idx;
ALTER TABLE certificates DROP COLUMN enterprise_id;
DROP TABLE business_types;
DROP TABLE memberships;
ALTER TABLE audit_logs DROP CONSTRAINT audit_logs_chain_fkey;
DROP TABLE enterprises;
DROP TABLE files;
