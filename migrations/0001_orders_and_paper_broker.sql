-- Orders: one row per request that passed authentication and parsing, written before the reply.
create table orders (
    id                uuid primary key,
    client_order_id   varchar(48)   not null,
    request_hash      bytea         not null,
    strategy_id       varchar(64)   not null,
    symbol            varchar(16)   not null,
    side              varchar(4)    not null check (side in ('buy', 'sell')),
    quantity          numeric(28,9) not null check (quantity > 0),
    order_type        varchar(6)    not null check (order_type in ('market', 'limit')),
    limit_price       numeric(28,9),
    time_in_force     varchar(3)    not null check (time_in_force in ('day', 'gtc', 'ioc', 'fok')),
    decision          varchar(8)    not null check (decision in ('accepted', 'rejected')),
    reason            varchar(40),
    limit_value       numeric(38,12),
    actual_value      numeric(38,12),
    message           text,
    reference_price   numeric(28,9),
    status            varchar(20)   not null,
    broker_order_id   varchar(64),
    filled_quantity   numeric(28,9) not null default 0,
    avg_fill_price    numeric(28,9),
    actor             varchar(80)   not null,
    created_at        timestamptz   not null,
    updated_at        timestamptz   not null,
    constraint orders_client_order_id_key unique (client_order_id)
);
create index orders_created_at_idx on orders (created_at desc);
create index orders_strategy_created_idx on orders (strategy_id, created_at desc);
create index orders_open_idx on orders (status) where status in ('pending_submit', 'submitted', 'partially_filled');

-- Operational limits: every version kept; the newest active one is in force.
create table limit_versions (
    version       bigserial primary key,
    limits        jsonb        not null,
    state         varchar(10)  not null check (state in ('active', 'pending', 'rejected', 'superseded')),
    reason        text         not null,
    proposed_by   varchar(80)  not null,
    proposed_at   timestamptz  not null,
    approved_by   varchar(80),
    approved_at   timestamptz
);

-- Machine clients. Only a SHA-256 of the key is stored; the key itself is shown once.
create table api_keys (
    id          uuid primary key,
    name        varchar(80)  not null unique,
    key_prefix  varchar(16)  not null,
    key_hash    bytea        not null unique,
    scopes      text[]       not null,
    created_at  timestamptz  not null,
    revoked_at  timestamptz
);

-- The in-process paper broker's durable state.
create table paper_account (
    id                 smallint primary key check (id = 1),
    cash               numeric(28,9) not null,
    updated_at         timestamptz   not null
);

create table paper_positions (
    symbol        varchar(16) primary key,
    quantity      numeric(28,9) not null,
    avg_price     numeric(28,9) not null,
    realized_pnl  numeric(28,9) not null,
    updated_at    timestamptz   not null
);

create table paper_orders (
    broker_order_id  uuid primary key,
    client_order_id  varchar(48)   not null unique,
    symbol           varchar(16)   not null,
    side             varchar(4)    not null,
    quantity         numeric(28,9) not null,
    order_type       varchar(6)    not null,
    limit_price      numeric(28,9),
    time_in_force    varchar(3)    not null,
    status           varchar(20)   not null,
    filled_quantity  numeric(28,9) not null default 0,
    avg_fill_price   numeric(28,9),
    created_at       timestamptz   not null,
    updated_at       timestamptz   not null
);
create index paper_orders_open_idx on paper_orders (status) where status in ('new', 'partially_filled');

create table paper_fills (
    id               bigserial primary key,
    broker_order_id  uuid          not null references paper_orders (broker_order_id),
    symbol           varchar(16)   not null,
    side             varchar(4)    not null,
    quantity         numeric(28,9) not null,
    price            numeric(28,9) not null,
    filled_at        timestamptz   not null
);

-- Start-of-day equity and the high-water mark, for daily/weekly loss and drawdown.
create table equity_marks (
    trading_date     date primary key,
    start_equity     numeric(28,9) not null,
    high_water_mark  numeric(28,9) not null,
    updated_at       timestamptz   not null
);
