/** Reads until `done` holds or `withinMs` has passed, then answers the last value read (the test asserts on it). */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, withinMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
