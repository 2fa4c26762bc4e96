import { startTracing } from './tracing';

// Imported first by src/api.ts: the instrumentations patch http and pg before anything loads them.
startTracing('tmcp-api');
