import type { DatabasePool } from '../src/db/pool';
import type { Logger } from '../src/logger';

export interface ActivityDeps {
  pool: DatabasePool;
  log: Logger;
}

/**
 * Builds every activity with its dependencies; the worker calls this once, tests call it with
 * their own dependencies. Workflows import only the type.
 */
export function createActivities(deps: ActivityDeps) {
  void deps;
  return {};
}

export type Activities = ReturnType<typeof createActivities>;
