-- When each scheduled job last succeeded, so an alert can say that a nightly job has not (deploy/prometheus/alerts.yml,
-- PortalScheduledJobNotSucceeding). Seeded with the install time: a job that never ran counts from then.
create table job_successes (
    job           text         primary key,
    succeeded_at  timestamptz  not null
);
insert into job_successes (job, succeeded_at) values ('audit-verify', now()), ('model-drift-check', now());

grant select, insert, update on job_successes to $app_role$;
