-- A payment its payer or merchant cancelled before it was authorized: nothing moved.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ('pending_authorization', 'mfa_required', 'processing', 'completed',
                                                                            'failed', 'expired', 'cancelled', 'partially_refunded', 'refunded'));
ALTER TABLE payments ADD COLUMN cancelled_at timestamptz;
