import type { ParameterizedContext } from 'koa';
import type { Caller } from '../auth/caller';
import type { VerifiedTep } from '../auth/tep';
import type { Logger } from '../logger';

export interface AppState {
  requestId: string;
  log: Logger;
  tep?: VerifiedTep;
  /** The user and mini-app of a TEP (set with `tep`). */
  caller?: Caller;
  /** The user whose own messenger is calling (messengerAuth): a Matrix session or a first-party TEP. */
  messengerUser?: string;
  /** The mini-app whose merchant backend is calling (merchantGate): its confidential client authenticated. */
  merchant?: string;
  /** The developer whose developer token is calling (developerGate). */
  developer?: string;
}

export type AppContext = ParameterizedContext<AppState>;
