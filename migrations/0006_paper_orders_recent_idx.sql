-- The paper broker reloads its most recent finished orders at start-up.
create index paper_orders_created_at_idx on paper_orders (created_at desc);
