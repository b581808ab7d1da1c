-- The tamper-evident audit trail: one SHA-256 hash chain of events (see Portal.Domain/Audit/AuditChain.cs),
-- append-only by the database's own rules, with signed checkpoints of its head.

-- One row per sealed event. canonical holds the exact RFC 8785 bytes that were hashed: jsonb reorders keys and
-- drops duplicates, so payload is only the queryable copy and verification compares it with canonical.
create table audit_events (
    seq             bigint       primary key check (seq > 0),
    time            timestamptz  not null,
    actor           text         not null,
    type            text         not null,
    subject         text         not null,
    payload         jsonb        not null,
    prev_hash       bytea        not null,
    hash            bytea        not null,
    canonical       bytea        not null,
    format_version  smallint     not null
);
-- Exports resolve a time range to seqs. No other index: each one slows every append.
create index audit_events_time_idx on audit_events (time);

-- The chain head: every append locks this row (select ... for update), so appends from all instances and
-- threads are serialised and the chain never forks. It only moves forward, which also makes a silently
-- removed tail visible: the head then names a seq the table no longer has.
create table audit_head (
    id    smallint  primary key check (id = 1),
    seq   bigint    not null,
    hash  bytea     not null
);
insert into audit_head (id, seq, hash) values (1, 0, decode(repeat('00', 32), 'hex'));

-- Signatures over (seq, hash, time) of the head, made with a key that is not in the database. The same lines are
-- appended to a file outside the database (Audit:CheckpointFile).
create table audit_checkpoints (
    id         bigint       generated always as identity primary key,
    seq        bigint       not null,
    hash       bytea        not null,
    time       timestamptz  not null,
    signature  text         not null,
    key_id     text         not null
);
create index audit_checkpoints_seq_idx on audit_checkpoints (seq);

create function audit_reject_change() returns trigger language plpgsql as $$
begin
    raise exception '% on % is not allowed: the audit trail is append-only', tg_op, tg_table_name
        using errcode = 'insufficient_privilege';
end
$$;

create function audit_head_forward_only() returns trigger language plpgsql as $$
begin
    if tg_op <> 'UPDATE' then
        raise exception '% on audit_head is not allowed', tg_op using errcode = 'insufficient_privilege';
    end if;
    if new.id <> old.id or new.seq <= old.seq then
        raise exception 'audit_head only moves forward (seq % to %)', old.seq, new.seq using errcode = 'insufficient_privilege';
    end if;
    return new;
end
$$;

create trigger audit_events_append_only before update or delete on audit_events
    for each row execute function audit_reject_change();
create trigger audit_events_no_truncate before truncate on audit_events
    for each statement execute function audit_reject_change();
create trigger audit_checkpoints_append_only before update or delete on audit_checkpoints
    for each row execute function audit_reject_change();
create trigger audit_checkpoints_no_truncate before truncate on audit_checkpoints
    for each statement execute function audit_reject_change();
create trigger audit_head_guard before update or delete on audit_head
    for each row execute function audit_head_forward_only();
create trigger audit_head_no_truncate before truncate on audit_head
    for each statement execute function audit_reject_change();

-- ENABLE ALWAYS: the triggers fire even under session_replication_role = replica, which would otherwise switch
-- them off for any session allowed to set it.
alter table audit_events enable always trigger audit_events_append_only;
alter table audit_events enable always trigger audit_events_no_truncate;
alter table audit_checkpoints enable always trigger audit_checkpoints_append_only;
alter table audit_checkpoints enable always trigger audit_checkpoints_no_truncate;
alter table audit_head enable always trigger audit_head_guard;
alter table audit_head enable always trigger audit_head_no_truncate;

-- The application role appends and reads; it moves the head (forward only). No UPDATE, DELETE or TRUNCATE.
revoke all on audit_events, audit_head, audit_checkpoints from public;
grant select, insert on audit_events, audit_checkpoints to $app_role$;
grant select, update on audit_head to $app_role$;
