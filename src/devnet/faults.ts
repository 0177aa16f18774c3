/**
 * The faults in force and the gate every request of the embedded services passes: latency, injected failures and
 * dropped connections, counted per method by its wire name. The served devnet gates each JSON-RPC entry itself
 * (by the method the client sent) and marks the fiber, so the services it calls are not gated a second time.
 */
import { Deferred, Effect, FiberId, FiberRef } from "effect"
import type { Faults } from "./types.js"

/** Set by the served devnet while it runs an entry it has already gated. */
export const gatedOnTheWire: FiberRef.FiberRef<boolean> = FiberRef.unsafeMake(false)

export interface FaultGate {
  readonly current: () => Faults
  readonly merge: (next: Faults) => void
  readonly clear: () => void
  readonly requests: () => number
  /**
   * Runs `body` as one request of `method`: latency, an injected failure (`fail(status)`, 0 for a dropped
   * connection), then `before` (the chain catching up with the clock), then the body, its answer held until the
   * faults are cleared when `holdNext` counts it.
   */
  readonly gate: <A, E>(method: string, fail: (code: number) => E, before: Effect.Effect<void>, body: Effect.Effect<A, E>) => Effect.Effect<A, E>
}

export const make = (initial: Faults = {}): FaultGate => {
  let faults: Faults = initial
  let requests = 0
  /** Opened when the faults are cleared: the answers held (`holdNext`) go out then. */
  let release = Deferred.unsafeMake<void>(FiberId.none)
  /** No latency and nothing to fail, drop or hold: a request only counts and runs (the common case, kept cheap). */
  const quiet = () =>
    faults.latency === undefined && (faults.failNext ?? 0) === 0 && (faults.dropNext ?? 0) === 0 && (faults.holdNext ?? 0) === 0
  const gate = <A, E>(method: string, fail: (code: number) => E, before: Effect.Effect<void>, body: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.flatMap(FiberRef.get(gatedOnTheWire), (onTheWire) => {
      if (onTheWire) return Effect.zipRight(before, body)
      if (quiet()) {
        requests++
        return Effect.zipRight(before, body)
      }
      return faulty(method, fail, before, body)
    })
  const faulty = <A, E>(method: string, fail: (code: number) => E, before: Effect.Effect<void>, body: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.gen(function*() {
      if (faults.latency !== undefined) yield* Effect.sleep(faults.latency)
      const targeted = faults.faultMethods === undefined || faults.faultMethods.includes(method)
      if (targeted && (faults.failNext ?? 0) > 0) {
        faults = { ...faults, failNext: faults.failNext! - 1 }
        return yield* Effect.fail(fail(faults.failStatus ?? 503))
      }
      const drop = targeted && (faults.dropNext ?? 0) > 0
      if (drop) faults = { ...faults, dropNext: faults.dropNext! - 1 }
      if (drop && faults.dropWhen !== "after") return yield* Effect.fail(fail(0))
      const skip = !drop && targeted && (faults.holdNext ?? 0) > 0 && (faults.holdSkip ?? 0) > 0
      if (skip) faults = { ...faults, holdSkip: faults.holdSkip! - 1 }
      const hold = !drop && !skip && targeted && (faults.holdNext ?? 0) > 0
      if (hold) faults = { ...faults, holdNext: faults.holdNext! - 1 }
      const released = release
      requests++
      yield* before
      if (hold) {
        // Carried out, then its answer waits for the faults to be cleared.
        const exit = yield* Effect.exit(body)
        yield* Deferred.await(released)
        return yield* exit
      }
      if (!drop) return yield* body
      // Carried out, whatever its outcome; the answer is lost with the connection.
      yield* Effect.exit(body)
      return yield* Effect.fail(fail(0))
    })
  return {
    current: () => faults,
    merge: (next) => {
      faults = { ...faults, ...next }
    },
    clear: () => {
      faults = {}
      Deferred.unsafeDone(release, Effect.void)
      release = Deferred.unsafeMake<void>(FiberId.none)
    },
    requests: () => requests,
    gate
  }
}

export const faultMessage = (code: number) =>
  code === 0 ? "connection dropped (injected fault)" : code === 429 ? "Too Many Requests (injected fault)" : "Service Unavailable (injected fault)"
