-- The deployment phase's version when a move up was requested. The request applies only while that is still the phase's
-- version: any change since, even one undone (an incident's move to Paper and back), voids it. Requests pending from
-- before this column cannot show it and are refused on approval: request again.
alter table phase_change_requests add column from_version bigint;
