-- Reminders of the expiry sweeper (runtime/inbox/expiry.py).
--
-- reminded_at: when an agent's expiry policy ("then": "remind") reminded the item's
-- recipient that it waits for them; set once per item (a conditional update), the item
-- stays pending. Notifications read it later.
ALTER TABLE inbox_items ADD COLUMN reminded_at TIMESTAMPTZ;
