/**
 * Reading and waiting for transactions. Polling and retries are `Schedule`s the caller can replace; all time goes
 * through `Clock`, so `TestClock` drives it in tests.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, FiberRef, LogLevel, Ref, Schedule, type Scope } from "effect"
import { Dropped, Reverted, RpcError, Timeout, TransactionNotFound } from "./Errors.js"
import { decode, TxHash, type TransactionStatus } from "./Schemas.js"
import * as Metrics from "./Metrics.js"
import { type Receipt, StarknetRpc, type TransactionWatch } from "./StarknetRpc.js"
import type { InvalidInput } from "./Errors.js"
import * as Ledger from "./Ledger.js"
import { faultAnnotations } from "./internal/transport/retry.js"
import { forgetView } from "./internal/account/views.js"

/**
 * Tells the ledger, when one is provided, that a transaction reached a final status: a reverted or rejected execute
 * gives its reserved call back (the chain did not count it).
 */
const settle = (txHash: TxHash, status: TransactionStatus) =>
  isFinal(status)
    ? Effect.zipRight(
      forgetOwnerChange(txHash),
      Ledger.settle(txHash, status.finalityStatus !== "REJECTED" && status.executionStatus !== "REVERTED", status.revertReason)
    )
    : Effect.void

/**
 * An owner's register, revoke or policy change of this process seen final: the session's state changed, and no
 * execute reuses what its preflight read of it before (see `StarknetRpc.preflightReuse`).
 */
const forgetOwnerChange = (txHash: TxHash): Effect.Effect<void, never, StarknetRpc> =>
  Effect.serviceOption(Ledger.Ledger).pipe(
    Effect.flatMap((ledger) =>
      ledger._tag === "None" ? Effect.void : ledger.value.paymentByHash(txHash).pipe(
        Effect.flatMap((p) => (p === undefined || p.purpose === "execute" ? Effect.void : forgetView(p.wallet, p.sessionPublicKey))),
        Effect.ignore
      )
    )
  )

/**
 * Retries transient faults (network, 429, 5xx): exponential from 100 ms, jittered, five times.
 *
 * @since 0.1.0
 * @category schedules
 */
export const defaultRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential("100 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(5))
)

/**
 * The shortest delay between two looks of `wait`: a faster schedule (`Schedule.forever`, `spaced(0)`) is slowed to
 * it, so that no wait floods a node. A block takes seconds; a look every 100 ms already sees it at once.
 *
 * @since 0.1.0
 * @category schedules
 */
export const minimumPollInterval: Duration.Duration = Duration.millis(100)

/**
 * Stretches each delay of a schedule to end on the next multiple of `grid` on the clock. Fibers that poll with
 * aligned schedules look at the same instants, so their reads leave together (one JSON-RPC batch per tick over
 * HTTP), whenever each of them started. No delay is shorter than `minimumPollInterval`: one that would be ends a
 * whole number of grid steps later.
 *
 * @since 0.1.0
 * @category schedules
 */
export const alignedTo = (grid: Duration.DurationInput) => <Out, In, R>(schedule: Schedule.Schedule<Out, In, R>): Schedule.Schedule<Out, In, R> => {
  const step = Math.max(1, Duration.toMillis(Duration.decode(grid)))
  const floor = Duration.toMillis(minimumPollInterval)
  return Schedule.modifyDelayEffect(schedule, (_, delay) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      let next = Math.ceil((now + Duration.toMillis(delay)) / step) * step - now
      // The poll floor is kept here, a whole number of grid steps later, so that `wait`'s floor never moves an
      // aligned look off its grid (which would split the looks of concurrent waits into several batches).
      while (next < floor) next += step
      return Duration.millis(next)
    }))
}

/**
 * Polling for Starknet's ~20-40 s blocks: first look at once, then after 0.5 s growing ×1.5 to every 5 s, each
 * look on a 250 ms grid of the clock (see `alignedTo`).
 *
 * @since 0.1.0
 * @category schedules
 */
export const defaultPolling: Schedule.Schedule<unknown, unknown> = Schedule.exponential("500 millis", 1.5).pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  alignedTo("250 millis")
)

/**
 * The default time budget of `wait`: a few blocks.
 *
 * @since 0.1.0
 * @category schedules
 */
export const defaultTimeout: Duration.DurationInput = "2 minutes"

/**
 * Raises every delay of a schedule below `minimumPollInterval` to it (`wait` does this to the schedule it is given).
 *
 * @since 0.1.0
 * @category schedules
 */
export const atLeastMinimumInterval = <Out, In, R>(schedule: Schedule.Schedule<Out, In, R>): Schedule.Schedule<Out, In, R> =>
  Schedule.modifyDelay(schedule, (_, delay) => Duration.max(delay, minimumPollInterval))

/** A fault worth retrying. @since 0.1.0 @category predicates */
export const isTransient = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "transient" in error && (error as { transient: unknown }).transient === true

/**
 * The failures of `E` that can be transient (those with a `transient` flag): what a retry schedule is given.
 *
 * @since 0.1.0
 * @category models
 */
export type TransientOf<E> = Extract<E, { readonly transient: boolean }>

/**
 * Retries an effect's transient failures with a schedule, which sees those failures (so an error-aware schedule,
 * e.g. `Schedule.recurWhile((e: RpcError) => e.code === 429)`, type-checks). Each retried fault is logged at debug
 * level.
 *
 * @since 0.1.0
 * @category combinators
 */
export const retryTransient = <A, E, R, R2 = never>(
  effect: Effect.Effect<A, E, R>,
  schedule: Schedule.Schedule<unknown, TransientOf<E>, R2> = defaultRetry
): Effect.Effect<A, E, R | R2> =>
  Effect.retry(
    Effect.tapError(effect, (error) =>
      isTransient(error) ? Effect.logDebug("transient fault").pipe(Effect.annotateLogs(faultAnnotations(error))) : Effect.void),
    // Only transient failures reach the schedule (`while`), and those are `TransientOf<E>`.
    { schedule: schedule as Schedule.Schedule<unknown, E, R2>, while: isTransient }
  )

// ---------------------------------------------------------------------------------------------------------------
// Shared timers: the looks of concurrent waits that fall due together wake together
// ---------------------------------------------------------------------------------------------------------------

/** Sleeps ending within the same this-many milliseconds (of the clock) share one timer. */
const QUANTUM = 10
/** Sleeps shorter than this keep their own timer. */
const SHARED_FROM = 100
const LiveClock = Clock.make().constructor

/** The sleepers of each deadline (ms since the epoch, a multiple of `QUANTUM`) and the one timer that wakes them. */
const sleepers = new Map<number, { readonly wake: Set<() => void>; readonly timer: ReturnType<typeof setTimeout> }>()

/**
 * A sleep that ends at the start of its quantum (up to `QUANTUM - 1` ms early), on a timer shared with every
 * other sleep ending in that quantum: one timer callback resumes them all, in the same turn of the event loop.
 * (Each its own `setTimeout` would not: Node measures a timer from the loop's cached time, so timers set for the
 * same instant by fibers running late in a busy turn fire spread over several turns, and their reads over several
 * batches.)
 */
const sharedSleep = (millis: number) =>
  Effect.async<void>((resume) => {
    const deadline = Math.floor((Date.now() + millis) / QUANTUM) * QUANTUM
    let entry = sleepers.get(deadline)
    if (entry === undefined) {
      const wake = new Set<() => void>()
      const timer = setTimeout(() => {
        sleepers.delete(deadline)
        for (const w of wake) w()
      }, Math.max(0, deadline - Date.now()))
      entry = { wake, timer }
      sleepers.set(deadline, entry)
    }
    const { timer, wake } = entry
    const mine = () => resume(Effect.void)
    wake.add(mine)
    return Effect.sync(() => {
      wake.delete(mine)
      if (wake.size === 0 && sleepers.get(deadline)?.timer === timer) {
        clearTimeout(timer)
        sleepers.delete(deadline)
      }
    })
  })

/** The live clock with shared timers for its longer sleeps; any other clock (a `TestClock`) as it is. */
const sharingTimers = (clock: Clock.Clock): Clock.Clock =>
  clock.constructor !== LiveClock ? clock : {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => clock.unsafeCurrentTimeMillis(),
    unsafeCurrentTimeNanos: () => clock.unsafeCurrentTimeNanos(),
    currentTimeMillis: clock.currentTimeMillis,
    currentTimeNanos: clock.currentTimeNanos,
    sleep: (duration) => {
      const millis = Duration.toMillis(duration)
      return millis >= SHARED_FROM && millis <= 2 ** 31 - 1 ? sharedSleep(millis) : clock.sleep(duration)
    }
  }

const sharing = new WeakMap<Clock.Clock, Clock.Clock>()
const withSharedTimers = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.clockWith((clock) => {
    let shared = sharing.get(clock)
    if (shared === undefined) {
      shared = sharingTimers(clock)
      sharing.set(clock, shared)
    }
    return Effect.withClock(effect, shared)
  })

/**
 * The status of a transaction, as the guide reads it. Transient RPC faults are retried.
 *
 * @since 0.1.0
 * @category reads
 */
export const getStatus = (
  txHash: string,
  options: { readonly retry?: Schedule.Schedule<unknown, RpcError> } = {}
): Effect.Effect<TransactionStatus, InvalidInput | RpcError | TransactionNotFound, StarknetRpc> =>
  Effect.gen(function*() {
    const hash = yield* decode(TxHash, "txHash")(txHash)
    const rpc = yield* StarknetRpc
    const status = yield* retryTransient(rpc.getTransactionStatus(hash), options.retry)
    yield* settle(hash, status)
    return status
  })

/**
 * Options of `wait`.
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitOptions {
  /**
   * When to look again; the wait fails with `TransactionNotFound` if the schedule ends before the hash is seen. Its
   * delays are never shorter than `minimumPollInterval`.
   */
  readonly schedule?: Schedule.Schedule<unknown, unknown>
  /** The whole budget; past it, `Timeout`. */
  readonly timeout?: Duration.DurationInput
  /** Retries of each read's transient faults (default `defaultRetry`). */
  readonly retry?: Schedule.Schedule<unknown, RpcError>
  /**
   * What the wait returns on (default `"final"`): a final status (`ACCEPTED_ON_L2` or `ACCEPTED_ON_L1`), or, with
   * `"pre_confirmed"`, as soon as the transaction has an outcome in the block being built (`PRE_CONFIRMED` with an
   * execution status: what RPC 0.9 answers SUCCEEDED for, about half a second after submission, and what the next
   * transaction executes on). A pre-confirmed transaction is lost only if its block is not finalised (then
   * `Dropped`).
   */
  readonly until?: "final" | "pre_confirmed"
}

/**
 * Whether a status is final: `REJECTED`, or an execution status in a closed block (`ACCEPTED_ON_L2` or
 * `ACCEPTED_ON_L1`). A `PRE_CONFIRMED` outcome is not: the block being built can still change, and a transaction
 * that reverts there may run when its block closes (or the reverse).
 *
 * @since 0.1.0
 * @category waiting
 */
export const isFinal = (status: TransactionStatus): boolean =>
  status.finalityStatus === "REJECTED" ||
  (status.executionStatus !== undefined &&
    (status.finalityStatus === "ACCEPTED_ON_L2" || status.finalityStatus === "ACCEPTED_ON_L1"))

/** Looks that find a pre-confirmed transaction gone, in a row, before the wait says it was dropped. */
const DROPPED_AFTER = 2

/**
 * Whether a status carries an outcome: an execution status, pre-confirmed or final (or `REJECTED`).
 *
 * @since 0.1.0
 * @category waiting
 */
export const hasOutcome = (status: TransactionStatus): boolean => status.finalityStatus === "REJECTED" || status.executionStatus !== undefined

/**
 * Waits until a transaction is final (or pre-confirmed, with `until: "pre_confirmed"`). Succeeds with the receipt on `SUCCEEDED`; fails with `Reverted` on
 * `REVERTED` (or `REJECTED`); when the schedule or the time budget ends first, with `Timeout` if the node knows the
 * hash but it is not final, and with `TransactionNotFound` if the node never knew it (a fresh hash may not be
 * visible at once, so "not found" is only the answer when the wait gives up); with `Dropped` when it was seen
 * pre-confirmed and is then gone (its block was not finalised). `Timeout.waited` is the time the wait took on the
 * `Clock`. Each look is logged at debug level, annotated with the hash and the status seen.
 *
 * @since 0.1.0
 * @category waiting
 */
export const wait = (
  txHash: string,
  options: WaitOptions = {}
): Effect.Effect<Receipt, InvalidInput | Reverted | Timeout | TransactionNotFound | Dropped | RpcError, StarknetRpc> =>
  Effect.gen(function*() {
    const hash = yield* decode(TxHash, "txHash")(txHash)
    const done = options.until === "pre_confirmed" ? hasOutcome : isFinal
    // Seen with an outcome, then looks in a row that do not find it.
    let seenOutcome = false
    let goneLooks = 0
    const rpc = yield* StarknetRpc
    const timeout = Duration.decode(options.timeout ?? defaultTimeout)
    const start = yield* Clock.currentTimeMillis
    // One look: the status, or "missing" while the node does not know the hash yet.
    const look = retryTransient(rpc.getTransactionStatus(hash), options.retry).pipe(
      Effect.map((status): TransactionStatus | "missing" => status),
      Effect.catchTag("TransactionNotFound", () => Effect.succeed("missing" as const)),
      Effect.tap((seen) =>
        Effect.logDebug("transaction status").pipe(
          Effect.annotateLogs(
            seen === "missing"
              ? { finalityStatus: "NOT_FOUND" }
              : { finalityStatus: seen.finalityStatus, ...(seen.executionStatus !== undefined ? { executionStatus: seen.executionStatus } : {}) }
          )
        ))
    )
    const lastSeen = yield* Ref.make<TransactionStatus | "missing">("missing")
    // The budget is a deadline on the clock: the sleeps between looks end at it at the latest, and only a look in
    // progress is raced against it (a pending wait holds no timeout fiber while it sleeps).
    const deadline = start + Duration.toMillis(timeout)
    const step = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      now >= deadline ? Effect.succeed("over" as const) : look.pipe(
        Effect.timeoutOption(Duration.millis(deadline - now)),
        Effect.flatMap((seen) =>
          seen._tag === "None"
            ? Effect.succeed("over" as const)
            : Effect.suspend(() => {
              const value = seen.value
              if (value === "missing") {
                if (seenOutcome && ++goneLooks >= DROPPED_AFTER) return Effect.succeed("dropped" as const)
                // A node behind the one that answered before: keep what was seen.
                return Effect.succeed("again" as const)
              }
              goneLooks = 0
              if (hasOutcome(value)) seenOutcome = true
              return Effect.as(Ref.set(lastSeen, value), done(value) ? "final" as const : "again" as const)
            })
        )
      ))
    const schedule = atLeastMinimumInterval(options.schedule ?? defaultPolling).pipe(
      Schedule.modifyDelayEffect((_, delay) =>
        Effect.map(Clock.currentTimeMillis, (now) => Duration.min(delay, Duration.millis(Math.max(0, deadline - now)))))
    )
    let dropped = false
    const poll = step.pipe(
      Effect.repeat({ schedule, until: (r) => r !== "again" }),
      // Concurrent waits polling on one grid wake in one turn, so their looks leave in full batches.
      withSharedTimers,
      Effect.tap((ended) => {
        dropped = ended === "dropped"
      })
    )
    yield* rpc.watchTransaction === undefined ? poll : watching(rpc.watchTransaction(hash), look, lastSeen, deadline, poll, done)
    if (dropped) return yield* new Dropped({ txHash: hash })
    const last = yield* Ref.get(lastSeen)
    // The schedule or the budget ended first: never seen is "not found", seen but pending is a timeout.
    if (last === "missing") return yield* new TransactionNotFound({ txHash: hash })
    if (!done(last)) {
      const waited = Duration.millis((yield* Clock.currentTimeMillis) - start)
      return yield* new Timeout({ txHash: hash, waited })
    }
    const status = last
    yield* settle(hash, status)
    if (status.finalityStatus === "REJECTED") {
      return yield* new Reverted({ txHash: hash, revertReason: status.revertReason ?? "rejected" })
    }
    const receipt = yield* retryTransient(rpc.getTransactionReceipt(hash), options.retry)
    if (receipt.executionStatus === "REVERTED") {
      return yield* new Reverted({ txHash: hash, revertReason: receipt.revertReason ?? status.revertReason ?? "" })
    }
    return receipt
  }).pipe(Effect.annotateLogs({ txHash }), Effect.withLogSpan("Transactions.wait"))

const finalityRank: Record<TransactionStatus["finalityStatus"], number> = {
  RECEIVED: 0,
  CANDIDATE: 1,
  PRE_CONFIRMED: 2,
  ACCEPTED_ON_L2: 3,
  ACCEPTED_ON_L1: 4,
  REJECTED: 5
}

/**
 * Waits through a subscription until the status is final (or what `done` asks for) or the deadline passes: each status heard is the status
 * seen; a reorganisation notice, or a status that goes back, is checked by a read of its own (what was heard may be
 * void, and a final status is never taken from it); while the subscription is down, `poll` runs until it is final,
 * over, or the subscription is up again (which sends the current status first).
 */
const watching = (
  watchTransaction: Effect.Effect<TransactionWatch, never, Scope.Scope>,
  look: Effect.Effect<TransactionStatus | "missing", RpcError>,
  lastSeen: Ref.Ref<TransactionStatus | "missing">,
  deadline: number,
  poll: Effect.Effect<unknown, RpcError>,
  done: (status: TransactionStatus) => boolean
): Effect.Effect<void, RpcError> =>
  Effect.scoped(Effect.gen(function*() {
    const watch = yield* watchTransaction
    const untilUp = Effect.repeat(watch.next, { until: (e) => e._tag === "Up" })
    // Each status heard is logged at debug level; its annotations are built only when that level is logged (they
    // cost a thousand waits woken together more than the rest of their handling).
    const logHeard = LogLevel.lessThanEqual(yield* FiberRef.get(FiberRef.currentMinimumLogLevel), LogLevel.Debug)
    while (true) {
      const e = yield* watch.next
      if (e._tag === "Up") continue
      if (e._tag === "Down") {
        yield* Metrics.watchFallback
        const ended = yield* Effect.raceFirst(Effect.as(poll, true), Effect.as(untilUp, false))
        if (ended) return
        continue
      }
      const before = yield* Ref.get(lastSeen)
      const heard = e._tag === "Status" ? e.status : undefined
      const seen = heard !== undefined && (before === "missing" || finalityRank[heard.finalityStatus] >= finalityRank[before.finalityStatus])
        ? heard
        : yield* look
      yield* Ref.set(lastSeen, seen)
      if (logHeard) {
        yield* Effect.logDebug("transaction status heard").pipe(
          Effect.annotateLogs(seen === "missing" ? { finalityStatus: "NOT_FOUND" } : { finalityStatus: seen.finalityStatus })
        )
      }
      if (seen !== "missing" && done(seen)) {
        // The waits woken with this one hear their statuses before this one goes on (its receipt, its settling).
        yield* Effect.yieldNow()
        return
      }
    }
  })).pipe(
    // The deadline bounds the whole watch: one timer for the wait, not one for each event heard.
    (watched) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => now >= deadline ? Effect.void : Effect.asVoid(Effect.timeoutOption(watched, Duration.millis(deadline - now))))
  )

/**
 * Polls every `interval` (at least `minimumPollInterval`), on the multiples of it on the clock (so concurrent waits
 * poll together).
 *
 * @since 0.1.0
 * @category schedules
 */
export const spaced = (interval: Duration.DurationInput): Schedule.Schedule<unknown, unknown> => {
  const step = Duration.max(Duration.decode(interval), minimumPollInterval)
  return Schedule.spaced(step).pipe(alignedTo(step))
}
