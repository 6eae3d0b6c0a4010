-- webhook-ingest confirms an intent once for all its queued deliveries (a burst or a backlog
-- holds many per intent): the worker looks the others up by intent.
CREATE INDEX wi_confirmations_intent_idx ON wi_confirmations (payment_intent_id, next_attempt_at);
