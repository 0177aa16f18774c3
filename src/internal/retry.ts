/**
 * The HTTP layers' own retries: only when the caller gave them a schedule (the lifecycle retries otherwise).
 */
import { Effect, type Schedule } from "effect"

/** Retries the transient failures of an effect with `schedule`, or leaves it as it is when there is none. */
export const retryTransientIfGiven = (schedule: Schedule.Schedule<unknown, unknown> | undefined) =>
<A, E extends { readonly transient: boolean }, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  schedule === undefined ? effect : Effect.retry(effect, { schedule, while: (e) => e.transient })
