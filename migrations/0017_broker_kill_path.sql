-- Whether Portal itself engaged the broker's own kill switch (Alpaca's suspend_trade) for a global halt. Portal clears
-- only a switch it engaged, once the halt is resumed; one engaged by anyone else holds Portal in safe mode
-- (docs/alpaca.md, "The second kill path").
create table broker_kill_path (
    broker             text primary key,
    engaged_by_portal  boolean not null,
    changed_at         timestamptz not null
);

grant select, insert, update on broker_kill_path to $app_role$;
