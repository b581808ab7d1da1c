-- Passkeys (WebAuthn credentials) for people: ASP.NET Core Identity's schema version 3 (IdentitySetup sets
-- Stores.SchemaVersion = Version3), written to match its EF model on PostgreSQL column for column; Portal.Tests
-- checks this file against the model. Only public keys, counters and flags live here, never a secret: a passkey's
-- private key never leaves the person's authenticator.
create table "AspNetUserPasskeys" (
    "CredentialId" bytea not null,
    "UserId"       text  not null,
    "Data"         jsonb not null,
    constraint "PK_AspNetUserPasskeys" primary key ("CredentialId"),
    constraint "FK_AspNetUserPasskeys_AspNetUsers_UserId" foreign key ("UserId") references "AspNetUsers" ("Id") on delete cascade
);
create index "IX_AspNetUserPasskeys_UserId" on "AspNetUserPasskeys" ("UserId");

-- Versions 2 and 3 of the model also bound the key columns of logins and tokens to 128 characters and the phone
-- number to 256. Identity's own values are short ("[AspNetUserStore]", the provider's subject); a longer one would
-- make this migration fail and leave the schema as it was, rather than cut it.
alter table "AspNetUserLogins"
    alter column "LoginProvider" type character varying(128),
    alter column "ProviderKey"   type character varying(128);
alter table "AspNetUserTokens"
    alter column "LoginProvider" type character varying(128),
    alter column "Name"          type character varying(128);
alter table "AspNetUsers" alter column "PhoneNumber" type character varying(256);

grant select, insert, update, delete on "AspNetUserPasskeys" to $app_role$;
