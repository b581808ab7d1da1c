-- The version in force a change was built on. A change (or the approval of a proposal) goes through only while that
-- version is still the one in force, so it never silently undoes another change made meanwhile; comparing versions,
-- not timestamps written by different instances' clocks. Proposals pending from before this column cannot show their
-- base and are refused as stale on approval: propose them again.
alter table limit_versions add column based_on bigint references limit_versions (version);
