DROP INDEX signing_tasks_deadline_idx;
ALTER TABLE task_signers DROP COLUMN reminded_at;
