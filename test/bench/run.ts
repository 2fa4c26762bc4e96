import globalSetup from '../setup/globalSetup';
import globalTeardown from '../setup/globalTeardown';
import { benchP2PConfirm } from './p2pConfirm';
import { printTable } from './stats';

/**
 * `npm run bench`: starts PostgreSQL and Temporal once (as `npm test` does, or uses DATABASE_URL /
 * TEMPORAL_ADDRESS), then runs each benchmark and prints its latencies in milliseconds.
 * BENCH_N sets the number of timed operations per case (default 200).
 */
async function main(): Promise<void> {
  const n = Number(process.env.BENCH_N ?? 200);
  await globalSetup();
  try {
    printTable('P2P confirm latency at the HTTP client, sequential (ms)', await benchP2PConfirm(n));
  } finally {
    await globalTeardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
