-- Refused market-data ticks kept for review. Bounded: the writer prunes to the newest
-- MarketData:QuarantineMaxRows rows after each batch (by id, which grows with arrival).
create table market_data_quarantine (
    id          bigserial    primary key,
    received_at timestamptz  not null,
    source      varchar(120) not null,
    symbol      varchar(32)  not null,
    price       numeric,
    bid         numeric,
    ask         numeric,
    size        numeric,
    tick_time   timestamptz  not null,
    reason      varchar(32)  not null,
    detail      text         not null
);
create index market_data_quarantine_symbol_idx on market_data_quarantine (symbol, id desc);

grant select, insert, delete on market_data_quarantine to $app_role$;
grant usage, select on sequence market_data_quarantine_id_seq to $app_role$;
