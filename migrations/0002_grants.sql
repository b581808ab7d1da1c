-- The application role reads and writes rows; only the owner (used for migrations) changes schema.
-- The role name comes from DbUp's variable so deployments can choose it.
grant usage on schema public to $app_role$;
grant select, insert, update on orders, limit_versions, api_keys, paper_account, paper_positions, paper_orders, paper_fills, equity_marks to $app_role$;
grant delete on paper_positions to $app_role$;
grant usage, select on all sequences in schema public to $app_role$;
