-- Issue 14 (refunds, captures, releases). Dojo's `Reversed` is now the link status `released`
-- (status-changed v1 events with `reversed` are upcast when read; the store is never rewritten).
-- The services' own tables keep a status folded from those events: rename it there too.
UPDATE li_links SET status = 'released' WHERE status = 'reversed';
UPDATE wi_links SET status = 'released' WHERE status = 'reversed';
UPDATE pr_integration_links SET status = 'released' WHERE status = 'reversed';

-- A paid (or captured, or partly refunded) link can still be refunded at Dojo's portal: the
-- reconciler keeps checking it (with its back-off) until no money can move any more.
UPDATE wi_links SET settled = false, next_check_at = now() WHERE status IN ('paid', 'authorized');

-- The integration publisher tells order systems what was captured, as it tells what was refunded.
ALTER TABLE pr_integration_links ADD COLUMN captured bigint NOT NULL DEFAULT 0;
