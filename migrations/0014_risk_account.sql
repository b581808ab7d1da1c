-- One row per account: every decision that can change the account's risk (an accepted order, a paper fill, a cancel)
-- locks it first, in the group committer's transaction, and decides against the state read under that lock. Two
-- instances' decisions therefore wait for each other instead of each counting only its own (docs/architecture.md).
create table risk_account (
    id          smallint primary key check (id = 1),
    created_at  timestamptz not null default now()
);
insert into risk_account (id) values (1);

-- The working orders read under the lock: accepted orders not yet finished, by symbol.
create index orders_working_idx on orders (symbol) include (side, quantity, filled_quantity)
    where decision = 'accepted' and status in ('pending_submit', 'submitted', 'new', 'partially_filled');
-- Open paper orders of one symbol, for fills on a price move.
create index paper_orders_open_symbol_idx on paper_orders (symbol) where status in ('new', 'partially_filled');

grant select, update on risk_account to $app_role$;
