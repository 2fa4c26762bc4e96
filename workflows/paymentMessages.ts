import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { AuthorizeRequest, CancelRequest, MfaVerifyRequest, PaymentSnapshot } from '../src/domain/payments';

/** The payment workflow's messages, shared by the workflow and the API that sends them. */
export const authorizePayment = defineUpdate<PaymentSnapshot, [AuthorizeRequest]>('authorize');
export const issueMfaChallenge = defineUpdate<PaymentSnapshot, [{ userId: string }]>('mfaChallenge');
export const verifyMfa = defineUpdate<PaymentSnapshot, [MfaVerifyRequest]>('mfaVerify');
export const cancelPayment = defineUpdate<PaymentSnapshot, [CancelRequest]>('cancel');
export const paymentState = defineQuery<PaymentSnapshot>('state');
