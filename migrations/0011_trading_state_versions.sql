-- Trading state versions come from Postgres (issue #15), not from any instance's clock: every write of a scope takes
-- nextval() while it holds the row, so versions of a scope only grow and no client can pick one. The sequence starts
-- above every version written so far (.NET ticks); a version at or above 2^62 cannot be ticks of a real date and was
-- forged (the Redis attack of issue #15), so it does not move the sequence: the next write replaces it.
create sequence trading_state_version_seq as bigint minvalue 1 no cycle;
select setval('trading_state_version_seq', greatest(1, coalesce((
    select max(version) from (select version from trading_state union all select version from trading_state_changes) v
    where version between 1 and 4611686018427387903), 1)));

-- A resume request answers one halt (the version of the scope's state it was made against) and expires.
alter table resume_requests add column halt_version bigint;
alter table resume_requests add column expires_at timestamptz;
alter table resume_requests drop constraint resume_requests_state_check;
alter table resume_requests add constraint resume_requests_state_check check (state in ('pending', 'approved', 'cancelled', 'rejected', 'expired', 'superseded'));
-- Requests made before this migration answer no known halt: they can no longer be approved.
update resume_requests set state = 'cancelled' where state = 'pending';
-- One pending request per scope, whatever two instances do at the same moment.
drop index resume_requests_pending_idx;
create unique index resume_requests_one_pending_per_scope on resume_requests (scope) where state = 'pending';

grant usage, select on sequence trading_state_version_seq to $app_role$;
