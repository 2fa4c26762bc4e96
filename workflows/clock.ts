/**
 * The workflow clock. Inside the Temporal sandbox `Date` is deterministic: it reads the time of the
 * current workflow task, the same on replay. Every workflow reads the time through this function,
 * so that each use says so.
 */
export function workflowNow(): number {
  // The sandbox's Date: deterministic, the current workflow task's time (not the machine's clock).
  return Date.now();
}
