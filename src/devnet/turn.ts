/**
 * A turn of the event loop, for work long enough to hold up others (a served devnet answers other clients in it).
 */
import { Effect } from "effect"

/** Resumes after a turn of the event loop: I/O and timers run before the fiber goes on (a microtask would not let them). */
export const nextTurn: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})
