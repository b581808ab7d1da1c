-- Model drift (issue #6): observations posted by models, pinned baselines, and the drift checks' results.

-- Each model version's feature vector, fixed at its first observation: rows store values in this order,
-- so 100k+ observations a day cost one float8 array each instead of repeating every name (JSON would triple the size).
create table model_versions (
    model_id       varchar(64)  not null,
    model_version  varchar(64)  not null,
    feature_names  text[]       not null,
    first_seen_at  timestamptz  not null,
    primary key (model_id, model_version)
);

-- Append-only; written with binary COPY. No foreign key: the version row is written before any COPY,
-- and a per-row trigger check would halve the ingest rate.
create table model_observations (
    id             bigint generated always as identity primary key,
    model_id       varchar(64)        not null,
    model_version  varchar(64)        not null,
    observed_at    timestamptz        not null,
    received_at    timestamptz        not null,
    prediction     double precision   not null,
    confidence     double precision   not null,
    features       double precision[] not null
);
-- Baselines and current windows are ranges of one model version's time line.
create index model_observations_model_time_idx on model_observations (model_id, model_version, observed_at, id);

-- The newest row per model is its baseline. The set is frozen by max_observation_id: late rows never join it.
create table model_baselines (
    id                  bigint generated always as identity primary key,
    model_id            varchar(64)   not null,
    model_version       varchar(64)   not null,
    window_from         timestamptz,
    window_to           timestamptz,
    first_n             int,
    max_observation_id  bigint        not null,
    observation_count   int           not null,
    last_observed_at    timestamptz   not null,
    reason              text          not null,
    pinned_by           varchar(120)  not null,
    pinned_at           timestamptz   not null,
    check ((first_n is null) <> (window_from is null and window_to is null))
);
create index model_baselines_model_idx on model_baselines (model_id, id desc);

create table model_drift_runs (
    id              bigint generated always as identity primary key,
    model_id        varchar(64)       not null,
    model_version   varchar(64)       not null,
    baseline_id     bigint            not null references model_baselines,
    started_at      timestamptz       not null,
    finished_at     timestamptz       not null,
    current_from    timestamptz       not null,
    current_to      timestamptz       not null,
    baseline_count  int               not null,
    current_count   int               not null,
    feature_alpha   double precision  not null,
    max_d           double precision  not null,
    drifted         boolean           not null,
    triggered_by    varchar(120)      not null
);
create index model_drift_runs_model_idx on model_drift_runs (model_id, id desc);

-- One row per compared distribution: each feature, the prediction and the confidence.
create table model_drift_results (
    run_id         bigint            not null references model_drift_runs,
    kind           varchar(12)       not null check (kind in ('feature', 'prediction', 'confidence')),
    name           varchar(64)       not null,
    d              double precision  not null,
    p_value        double precision  not null,
    p_method       varchar(12)       not null,
    psi            double precision  not null,
    significant    boolean           not null,
    material       boolean           not null,
    drifted        boolean           not null,
    ecdf_x         double precision[] not null,
    ecdf_baseline  double precision[] not null,
    ecdf_current   double precision[] not null,
    primary key (run_id, kind, name)
);

grant select, insert on model_versions, model_observations, model_baselines, model_drift_runs, model_drift_results to $app_role$;
grant usage, select on all sequences in schema public to $app_role$;
