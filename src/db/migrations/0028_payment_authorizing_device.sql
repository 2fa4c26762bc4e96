-- The device whose signature authorized a payment that asked for a second factor: the second
-- factor must be another (a PIN, TOTP, or another device that is not itself new).
ALTER TABLE payments ADD COLUMN auth_device_id text;
