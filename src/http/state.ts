import type { ParameterizedContext } from 'koa';
import type { VerifiedTep } from '../auth/tep';
import type { Logger } from '../logger';

export interface AppState {
  requestId: string;
  log: Logger;
  tep?: VerifiedTep;
}

export type AppContext = ParameterizedContext<AppState>;
