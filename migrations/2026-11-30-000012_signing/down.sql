DROP TABLE regulator_reports;
DROP INDEX signing_tasks_completing_idx;
ALTER TABLE signing_tasks DROP COLUMN all_signed_at;
DROP TABLE signature_evidence;
DROP TABLE signing_attempts;
