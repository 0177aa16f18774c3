/**
 * The HTTP layers' own retries: only when the caller gave them a schedule (the lifecycle retries otherwise).
 */
import { Effect, type Schedule } from "effect"

/**
 * Retries the transient failures of an effect with `schedule`, or leaves it as it is when there is none. The schedule
 * is typed by the failures it sees: an effect whose failures it cannot take does not type-check.
 */
export const retryTransientIfGiven = <In, R2 = never>(schedule: Schedule.Schedule<unknown, In, R2> | undefined) =>
<A, E extends In & { readonly transient: boolean }, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | R2> =>
  schedule === undefined
    ? effect
    : Effect.retry(
      Effect.tapError(effect, (e) =>
        e.transient ? Effect.logDebug("transient fault").pipe(Effect.annotateLogs(faultAnnotations(e))) : Effect.void),
      { schedule, while: (e) => e.transient }
    )

/** The facts of a fault that a log may hold: its tag, code and method, never its text (which may echo a URL). */
export const faultAnnotations = (error: unknown): Record<string, unknown> => {
  const fields = error as { readonly _tag?: unknown; readonly code?: unknown; readonly method?: unknown }
  return {
    fault: typeof fields._tag === "string" ? fields._tag : "unknown",
    ...(typeof fields.code === "number" ? { code: fields.code } : {}),
    ...(typeof fields.method === "string" ? { method: fields.method } : {})
  }
}
