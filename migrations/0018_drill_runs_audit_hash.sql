-- A drill result counts on the checklist only if the audit record it names exists and matches it: the record's hash is
-- kept with the row (README, "Go-live readiness"). Rows from before have none and no longer count.
alter table drill_runs add column audit_hash bytea;
