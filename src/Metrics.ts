/**
 * The library's metrics, as Effect `Metric`s: read them with `Metric.value` or `Metric.snapshot`, or export them
 * with `@effect/opentelemetry` (an optional peer; see docs/going-live.md, "Metrics"). Each is updated where the event
 * happens; none holds a secret or a key (tags are outcomes, error tags and method names).
 *
 * @since 0.2.0
 */
import { Clock, Effect, Metric, MetricBoundaries } from "effect"

/** Milliseconds, 1 ms to about 33 s by powers of two. */
const millisBoundaries = MetricBoundaries.exponential({ start: 1, factor: 2, count: 16 })

/**
 * Executes, tagged `outcome` (`sent`: the paymaster took it; `unknown`: sent or not is not known; `failed`) and,
 * when failed, `error` (the error's tag).
 *
 * @since 0.2.0
 * @category metrics
 */
export const executes = Metric.counter("starknet_session_executes_total", {
  description: "session executes, by outcome and error tag",
  incremental: true
})

/**
 * Outcomes not known when they were due (an answer lost on the way): each is a typed result to resolve from the
 * chain.
 *
 * @since 0.2.0
 * @category metrics
 */
export const unknownOutcomes = Metric.counter("starknet_session_unknown_outcomes_total", {
  description: "executes or owner transactions whose outcome was not known when due",
  incremental: true
})

/**
 * How long an unknown outcome took to be resolved from the chain, in milliseconds, tagged `resolution`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const unknownResolutionMillis = Metric.histogram(
  "starknet_session_unknown_resolution_ms",
  millisBoundaries,
  "time from an unknown outcome to its resolution from the chain"
)

/**
 * Executes refused by the preflight before anything was signed or sent, tagged `reason` (the error's tag).
 *
 * @since 0.2.0
 * @category metrics
 */
export const preflightRefusals = Metric.counter("starknet_session_preflight_refusals_total", {
  description: "executes refused by the preflight, by error tag",
  incremental: true
})

/**
 * Latency of the paymaster's requests, in milliseconds, tagged `method`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const paymasterLatencyMillis = Metric.histogram(
  "starknet_session_paymaster_latency_ms",
  millisBoundaries,
  "latency of paymaster requests"
)

/**
 * Latency of the node's JSON-RPC requests (one batch request counts once), in milliseconds.
 *
 * @since 0.2.0
 * @category metrics
 */
export const rpcLatencyMillis = Metric.histogram(
  "starknet_session_rpc_latency_ms",
  millisBoundaries,
  "latency of JSON-RPC requests to the node"
)

/**
 * Reconnections of the WebSocket connection that waits watch through.
 *
 * @since 0.2.0
 * @category metrics
 */
export const subscriptionReconnects = Metric.counter("starknet_session_subscription_reconnects_total", {
  description: "reconnections of the WebSocket subscriptions' connection",
  incremental: true
})

/**
 * Waits that polled because their subscription was down (each time it went down).
 *
 * @since 0.2.0
 * @category metrics
 */
export const watchFallbacks = Metric.counter("starknet_session_watch_fallbacks_total", {
  description: "waits that fell back to polling while their subscription was down",
  incremental: true
})

/**
 * Automations' steps, tagged `outcome` (`done`, `failed`, `unknown`).
 *
 * @since 0.2.0
 * @category metrics
 */
export const automationSteps = Metric.counter("starknet_session_automation_steps_total", {
  description: "automation steps, by outcome",
  incremental: true
})

// ---------------------------------------------------------------------------------------------------------------
// Hooks: one short call where each event happens
// ---------------------------------------------------------------------------------------------------------------

/** @internal */
export const watchFallback: Effect.Effect<void> = Metric.increment(watchFallbacks)

/** @internal */
export const reconnected: Effect.Effect<void> = Metric.increment(subscriptionReconnects)

/** @internal */
export const automationStep = (outcome: string): Effect.Effect<void> => Metric.increment(Metric.tagged(automationSteps, "outcome", outcome))

/** @internal */
export const preflightRefused = (reason: string): Effect.Effect<void> => Metric.increment(Metric.tagged(preflightRefusals, "reason", reason))

/** @internal */
export const unknownOutcome: Effect.Effect<void> = Metric.increment(unknownOutcomes)

/** @internal */
export const unknownResolved = (resolution: string, millis: number): Effect.Effect<void> =>
  Metric.update(Metric.tagged(unknownResolutionMillis, "resolution", resolution), millis)

/**
 * Counts an execute's exit: `sent`, `unknown` (an `UnknownOutcome` failure, or a success that says so), or `failed`
 * with its error's tag.
 *
 * @internal
 */
export const countExecute = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.onExit(effect, (exit) => {
    if (exit._tag === "Success") return Metric.increment(Metric.tagged(executes, "outcome", "sent"))
    const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
    const tag = typeof failure === "object" && failure !== null && "_tag" in failure ? String((failure as { _tag: unknown })._tag) : "defect"
    if (tag === "Interrupt") return Effect.void
    if (tag === "OutcomeUnknown") {
      return Effect.zipRight(Metric.increment(Metric.tagged(executes, "outcome", "unknown")), unknownOutcome)
    }
    return Metric.increment(Metric.tagged(Metric.tagged(executes, "outcome", "failed"), "error", tag))
  })

/**
 * Times a resolution of an unknown outcome, tagged `resolution`: `Executed`, `NotExecuted`, or `unknown` (still
 * open when its schedule ended).
 *
 * @internal
 */
export const timedResolve = <A extends { readonly _tag: string }, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Clock.currentTimeMillis, (start) =>
    Effect.onExit(effect, (exit) =>
      Effect.flatMap(Clock.currentTimeMillis, (end) =>
        exit._tag === "Success"
          ? unknownResolved(exit.value._tag, end - start)
          : exit.cause._tag === "Fail" && (exit.cause.error as { _tag?: unknown })?._tag === "OutcomeUnknown"
          ? unknownResolved("unknown", end - start)
          : Effect.void)))

/**
 * Times an effect into a latency histogram, tagged `method`.
 *
 * @internal
 */
export const timed = (histogram: typeof rpcLatencyMillis, method: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Clock.currentTimeMillis, (start) =>
    Effect.onExit(effect, () =>
      Effect.flatMap(Clock.currentTimeMillis, (end) => Metric.update(Metric.tagged(histogram, "method", method), end - start))))
