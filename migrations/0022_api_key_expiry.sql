-- A key may carry the time it stops working, so one whose holder cannot revoke it (a readiness drill's halt key
-- when its instance dies mid-drill) does not stay usable: past expires_at it is refused like a revoked key.
alter table api_keys add column expires_at timestamptz;
