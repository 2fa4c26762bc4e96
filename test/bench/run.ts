import globalSetup from '../setup/globalSetup';
import globalTeardown from '../setup/globalTeardown';
import { benchAppserviceTransactions } from './appserviceTransactions';
import { benchP2PConfirm } from './p2pConfirm';
import { printTable } from './stats';

/**
 * `npm run bench`: starts PostgreSQL and Temporal once (as `npm test` does, or uses DATABASE_URL /
 * TEMPORAL_ADDRESS), then runs each benchmark and prints its latencies in milliseconds: sequential
 * P2P confirms (no room, a stub homeserver, a real Synapse) and Application Service transactions.
 * BENCH_N sets the number of timed operations per case (default 200).
 */
async function main(): Promise<void> {
  const n = Number(process.env.BENCH_N ?? 200);
  await globalSetup();
  try {
    printTable('P2P confirm latency at the HTTP client, sequential, device signatures (ms)', await benchP2PConfirm(n));
    const as = await benchAppserviceTransactions(Math.max(20, Math.round(n / 2)));
    printTable('Application Service transactions at the HTTP client, sequential (ms)', as.rows);
    console.log(`events per second: ${as.eventsPerSecond.first.toFixed(0)} first time, ${as.eventsPerSecond.repeated.toFixed(0)} repeated`);
  } finally {
    await globalTeardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
