-- Four-eyes that one person cannot satisfy (README "Users, roles and API keys"; docs/risk-limits.md).
--
-- API keys name the person answerable for them (null: created with --owner none, or before this
-- migration). A limit change proposed with a key records that owner next to the key, and the owner
-- cannot approve it.
alter table api_keys add column owner varchar(256);
alter table limit_versions add column key_owner varchar(256);

-- Granting RiskOfficer or Admin is a request that another, existing Admin approves. requester_id and
-- user_id are AspNetUsers ids: the approver must be neither. A request not decided by expires_at is
-- expired (Admin:RoleGrantExpiry).
create table role_grants (
    id            uuid          primary key,
    user_id       text          not null references "AspNetUsers" ("Id") on delete cascade,
    role          varchar(40)   not null check (role in ('RiskOfficer', 'Admin')),
    requested_by  varchar(256)  not null,
    requester_id  text          not null,
    requested_at  timestamptz   not null,
    expires_at    timestamptz   not null,
    state         varchar(10)   not null check (state in ('pending', 'approved', 'rejected', 'expired')),
    decided_by    varchar(256),
    decided_at    timestamptz
);
-- One open request per person and role.
create unique index role_grants_pending_idx on role_grants (user_id, role) where state = 'pending';

grant select, insert, update on role_grants to $app_role$;
