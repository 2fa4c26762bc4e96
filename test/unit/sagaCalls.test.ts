import { ServiceError } from '@temporalio/client';
import pino from 'pino';
import { updateSaga } from '../../src/temporal/sagaCalls';
import type { Temporal } from '../../src/temporal/client';
import { openGiftUpdate } from '../../workflows/giftMessages';

/** A Temporal client whose executeUpdate answers as told, recording the update ids it was sent. */
function stubTemporal(answers: Array<() => unknown>): { temporal: Temporal; ids: string[] } {
  const ids: string[] = [];
  const client = {
    withDeadline: <T>(_deadline: number, call: () => Promise<T>) => call(),
    workflow: {
      getHandle: () => ({
        executeUpdate: async (_update: unknown, options: { updateId: string }) => {
          ids.push(options.updateId);
          return answers.shift()!();
        },
      }),
    },
  };
  return { temporal: { client } as unknown as Temporal, ids };
}

const aborted = () => {
  throw new ServiceError('Workflow Update failed', { cause: Object.assign(new Error('workflow update was aborted'), { code: 14, details: 'workflow update was aborted', metadata: {} }) });
};
const call = { workflowId: 'gift-x', update: openGiftUpdate, arg: { userId: '@u:tmcp.test' }, fields: {}, unavailable: 'busy' };
const deps = (temporal: Temporal) => ({ temporal, config: { sagaAnswerTimeoutMs: 1000 }, log: pino({ level: 'silent' }) });

describe('an Update the server aborted', () => {
  it('is asked again under the same id, and its answer taken', async () => {
    const { temporal, ids } = stubTemporal([aborted, aborted, () => ({ opened: true })]);
    expect(await updateSaga(deps(temporal), call)).toEqual({ answer: { opened: true } });
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
  });

  it('is a 503 after three aborted attempts', async () => {
    const { temporal, ids } = stubTemporal([aborted, aborted, aborted, () => ({ opened: true })]);
    await expect(updateSaga(deps(temporal), call)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(ids).toHaveLength(3);
  });
});

const busy = () => {
  throw new ServiceError('Workflow Update failed', {
    cause: Object.assign(new Error('limit on number of concurrent in-flight updates has been reached'), { code: 8, details: 'limit on number of concurrent in-flight updates has been reached', metadata: {} }),
  });
};

describe('an Update refused while the workflow has too many in flight', () => {
  it('is sent again under the same id until there is room, and its answer taken', async () => {
    const { temporal, ids } = stubTemporal([busy, busy, busy, busy, busy, () => ({ opened: true })]);
    expect(await updateSaga(deps(temporal), call)).toEqual({ answer: { opened: true } });
    expect(ids).toHaveLength(6);
    expect(new Set(ids).size).toBe(1);
  });

  it('is a 503 once the answer deadline has passed', async () => {
    const { temporal, ids } = stubTemporal(Array.from({ length: 1000 }, () => busy));
    const started = Date.now();
    await expect(updateSaga(deps(temporal), call)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(ids.length).toBeGreaterThan(5);
  });
});
