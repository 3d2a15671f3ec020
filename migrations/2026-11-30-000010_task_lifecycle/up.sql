-- Reminders are limited per signer (once an hour); expiry finds due tasks
-- by their deadline.
ALTER TABLE task_signers ADD COLUMN reminded_at timestamptz;
CREATE INDEX signing_tasks_deadline_idx ON signing_tasks (deadline) WHERE status = 'IN_PROGRESS' AND deadline IS NOT NULL;
