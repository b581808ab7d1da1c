-- The audit page: filters on type, actor and subject, newest first, paged by seq (keyset). Each index is (column, seq)
-- so a filtered page is one index range read backwards from the cursor, however long the chain. Three more index
-- entries per append is the price; appends are batched by the group committer, so it is paid per batch row, not per
-- round trip.
create index audit_events_type_seq_idx on audit_events (type, seq);
create index audit_events_actor_seq_idx on audit_events (actor, seq);
create index audit_events_subject_seq_idx on audit_events (subject, seq);

-- Live views learn of appends from the database itself: NOTIFY is delivered only when the appending transaction
-- commits (appends happen inside other actions' transactions in several places, and only the database knows which
-- committed), to every instance that listens. One notification per statement carries the newest seq it inserted.
create function audit_events_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('audit_appended', (select max(seq) from inserted)::text);
    return null;
end
$$;

create trigger audit_events_appended after insert on audit_events
    referencing new table as inserted
    for each statement execute function audit_events_notify();
