-- The transparency log over the chain (docs/audit-trail.md, "Proofs"): the RFC 9162 Merkle tree whose leaf i is the
-- canonical bytes of the event with seq i + 1. Proofs are made of complete subtree hashes; computing them from the
-- events on each request would read the whole chain, so the checkpointer stores every complete subtree once, when
-- it signs a tree head that covers it: about two rows per event. Level 0 holds the leaf hashes, and (level, idx) is
-- the subtree of 2^level leaves starting at leaf idx * 2^level. A row changed here makes proofs fail against the
-- signed roots; it cannot make a false proof pass.
create table audit_merkle_nodes (
    level  smallint  not null check (level >= 0 and level < 63),
    idx    bigint    not null check (idx >= 0),
    hash   bytea     not null check (length(hash) = 32),
    primary key (level, idx)
);

create trigger audit_merkle_nodes_append_only before update or delete on audit_merkle_nodes
    for each row execute function audit_reject_change();
create trigger audit_merkle_nodes_no_truncate before truncate on audit_merkle_nodes
    for each statement execute function audit_reject_change();
alter table audit_merkle_nodes enable always trigger audit_merkle_nodes_append_only;
alter table audit_merkle_nodes enable always trigger audit_merkle_nodes_no_truncate;

-- Checkpoints are now C2SP signed notes (origin, tree size, root hash; see Portal.Domain/Audit/CheckpointNote.cs).
-- note holds the whole signed note; rows signed before this migration have none and pin the chain hash only.
alter table audit_checkpoints add column note text;

revoke all on audit_merkle_nodes from public;
grant select, insert on audit_merkle_nodes to $app_role$;
