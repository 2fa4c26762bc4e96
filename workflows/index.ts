// Every workflow the worker runs is exported here; the worker bundles this file.
export { acceptInvite } from './acceptInvite';
export { p2pSaga, p2pTransfer } from './p2pTransfer';
export { deviceGrant } from './deviceGrant';
export { webhookDelivery } from './webhookDelivery';
export { paymentSaga } from './payment';
export { refundAnnouncement } from './refundAnnouncement';
export { walletCallbackEvent } from './walletCallbackEvent';
export { giftSaga } from './gift';
export { topUpSaga } from './topup';
export { withdrawalSaga } from './withdrawal';
export { authorizationRecord } from './authorizationRecord';
export { walletInvite } from './walletInvite';
export { miniappAnnouncement } from './miniappAnnouncement';
