-- Go-live readiness: every drill run's result (the checklist's evidence), the deployment phase, and
-- four-eyes requests to change the phase. Each row's audit record is linked by its seq in audit_events.

create table drill_runs (
    id           uuid          primary key,
    drill        varchar(40)   not null,
    ok           boolean       not null,
    summary      text          not null,
    figures      jsonb         not null,
    actor        varchar(120)  not null,
    started_at   timestamptz   not null,
    finished_at  timestamptz   not null,
    audit_seq    bigint        not null
);
-- The checklist reads the newest run of each drill.
create index drill_runs_latest_idx on drill_runs (drill, finished_at desc);

-- One row: the phase in force (paper, small_live, scale_up).
create table deployment_phase (
    id          smallint      primary key check (id = 1),
    phase       varchar(12)   not null check (phase in ('paper', 'small_live', 'scale_up')),
    reason      text          not null,
    changed_by  varchar(240)  not null,
    changed_at  timestamptz   not null,
    version     bigint        not null
);
insert into deployment_phase (id, phase, reason, changed_by, changed_at, version)
values (1, 'paper', 'Initial phase', 'system', now(), 1);

create table phase_change_requests (
    id            uuid          primary key,
    target_phase  varchar(12)   not null check (target_phase in ('paper', 'small_live', 'scale_up')),
    reason        text          not null,
    requested_by  varchar(120)  not null,
    requested_at  timestamptz   not null,
    state         varchar(10)   not null check (state in ('pending', 'approved', 'refused')),
    decided_by    varchar(120),
    decided_at    timestamptz,
    decision_note text
);
create index phase_change_requests_pending_idx on phase_change_requests (requested_at) where state = 'pending';

grant select, insert on drill_runs to $app_role$;
grant select, update on deployment_phase to $app_role$;
grant select, insert, update on phase_change_requests to $app_role$;
