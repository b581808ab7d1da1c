-- Strategies belong to keys: the strategy ids a key may send orders for, or '{*}' for every id that is not
-- reserved to Portal ('drill' and ids starting with 'portal-'; see docs/security.md). Keys created before this
-- column existed keep null, which trades nothing until an administrator issues a key with its strategies:
-- failing closed is safer than guessing what an old key was meant to trade.
alter table api_keys add column strategies text[];
