-- Trading state per scope ('global' or 'strategy:<id>'): the durable source of truth for halts.
-- Redis carries a copy (no expiry) and the change notifications; Postgres wins on reconciliation.
create table trading_state (
    scope       varchar(80)  primary key,
    mode        varchar(12)  not null check (mode in ('active', 'reduce_only', 'halted')),
    reason      text         not null,
    changed_by  varchar(120) not null,
    changed_at  timestamptz  not null,
    version     bigint       not null
);

-- Every transition, kept for the record (the audit chain records them too once it lands).
create table trading_state_changes (
    id          bigserial    primary key,
    scope       varchar(80)  not null,
    mode        varchar(12)  not null,
    reason      text         not null,
    changed_by  varchar(120) not null,
    changed_at  timestamptz  not null,
    version     bigint       not null,
    constraint trading_state_changes_scope_version_key unique (scope, version)
);

-- Resume needs a second, different RiskOfficer when four-eyes is on.
create table resume_requests (
    id            uuid         primary key,
    scope         varchar(80)  not null,
    target_mode   varchar(12)  not null check (target_mode in ('active', 'reduce_only')),
    reason        text         not null,
    requested_by  varchar(120) not null,
    requested_at  timestamptz  not null,
    state         varchar(10)  not null check (state in ('pending', 'approved', 'cancelled')),
    decided_by    varchar(120),
    decided_at    timestamptz
);
create index resume_requests_pending_idx on resume_requests (scope) where state = 'pending';

grant select, insert, update on trading_state, resume_requests to $app_role$;
grant select, insert on trading_state_changes to $app_role$;
grant usage, select on sequence trading_state_changes_id_seq to $app_role$;
