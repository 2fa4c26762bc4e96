import { startTracing } from './tracing';

// Imported first by src/worker.ts: the instrumentations patch http and pg before anything loads them.
startTracing('tmcp-worker');
