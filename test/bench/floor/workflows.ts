import { condition, defineUpdate, setHandler } from '@temporalio/workflow';

/** The smallest workflows a Temporal server can run: what one costs is the floor under every saga. */
export const finish = defineUpdate<string, [string]>('finish');

/** Completes in its first workflow task. */
export async function emptyWorkflow(): Promise<string> {
  return 'done';
}

/** Started together with an Update (as p2pSaga is), answers it, and completes in the same task. */
export async function emptyUpdateWorkflow(): Promise<string> {
  let finished = false;
  setHandler(finish, (value) => {
    finished = true;
    return value;
  });
  await condition(() => finished);
  return 'done';
}
