DROP TABLE quota_ledger;
DROP TABLE quota_balances;
DROP TABLE task_cc;
DROP TABLE task_documents;
DROP TABLE task_signers;
DROP TABLE signing_tasks;
DROP TABLE signing_batches;
DROP TABLE frequent_contacts;
