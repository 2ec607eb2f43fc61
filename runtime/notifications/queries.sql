-- name: list_preferences
-- A user's stored preferences (pairs never changed have no row).
SELECT id, user_id, channel, notification_type, is_enabled, frequency
FROM notification_preferences
WHERE user_id = $1;

-- name: upsert_preference
-- One statement on the seed's UNIQUE (user_id, channel, notification_type), so concurrent
-- updates of the same pair never collide: $4 / $5 NULL keep the stored value (or the
-- seed's default for a new row).
INSERT INTO notification_preferences (user_id, channel, notification_type, is_enabled, frequency)
VALUES ($1, $2, $3, COALESCE($4, true), COALESCE($5, 'immediate'))
ON CONFLICT (user_id, channel, notification_type) DO UPDATE
SET
  is_enabled = COALESCE($4, notification_preferences.is_enabled, true),
  frequency = COALESCE($5, notification_preferences.frequency, 'immediate')
RETURNING id, user_id, channel, notification_type, is_enabled, frequency;
