-- Dashboard charts (issue #19): the account's daily P&L and gross exposure, sampled every Dashboard:SampleInterval
-- (one row per interval across instances: the time is the interval's start) so that a chart opens with its history.
-- The sampler deletes rows older than Dashboard:SampleRetention.
create table account_samples (
    sampled_at      timestamptz    primary key,
    equity          numeric(28,9)  not null,
    daily_pnl       numeric(28,9)  not null,
    gross_exposure  numeric(28,9)  not null
);

grant select, insert, delete on account_samples to $app_role$;
