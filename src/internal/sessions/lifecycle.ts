/**
 * What the lifecycle's operations share: their inputs (PINs, parameters), their options and the failures they
 * name, the validity window's bounds, the retry of transient faults, and the read of a session's stored data.
 */
import { Duration, Effect, Option, Redacted } from "effect"
import { SELECTORS } from "../../Constants.js"
import { InvalidInput } from "../../Errors.js"
import { sessionKeyCalldata } from "../../OutsideExecution.js"
import { Address, decode, type Felt, sessionDataFromFelts } from "../../Schemas.js"
import { StarknetRpc } from "../../StarknetRpc.js"
import * as Transactions from "../../Transactions.js"
import type { Options, Pin, Retried } from "../../Sessions.js"

export const invalid = (path: string, rule: string) => new InvalidInput({ path, rule, issues: [{ path, rule }] })

export const toPin = (pin: Pin, path: string): Effect.Effect<Redacted.Redacted<string>, InvalidInput> => {
  const value = Redacted.isRedacted(pin) ? Redacted.value(pin) : pin
  return typeof value === "string" && value.length > 0
    ? Effect.succeed(Redacted.isRedacted(pin) ? pin : Redacted.make(pin))
    : Effect.fail(invalid(path, "a non-empty PIN is required"))
}

/** Parameters must be an object before any field is read (a missing argument is a typed error, not a throw). */
export const objectParams = <P>(params: P): Effect.Effect<P, InvalidInput> =>
  typeof params === "object" && params !== null ? Effect.succeed(params) : Effect.fail(invalid("", "parameters must be an object"))

const DEFAULT_VALIDITY = Duration.minutes(2)
const MAX_VALIDITY = Duration.days(1)
const DEFAULT_TOLERANCE = Duration.seconds(60)

export const seconds = (input: unknown, path: string, fallback: Duration.Duration, min: Duration.Duration, max: Duration.Duration) =>
  Effect.suspend(() => {
    if (input === undefined) return Effect.succeed(Math.ceil(Duration.toSeconds(fallback)))
    const decoded = Duration.decodeUnknown(input)
    if (Option.isNone(decoded)) return Effect.fail(invalid(path, "must be a duration (\"2 minutes\", milliseconds, a Duration)"))
    const d = decoded.value
    if (!Duration.isFinite(d) || Duration.lessThan(d, min) || Duration.greaterThan(d, max)) {
      return Effect.fail(invalid(path, `must be between ${Duration.format(min)} and ${Duration.format(max)}`))
    }
    return Effect.succeed(Math.ceil(Duration.toSeconds(d)))
  })

export const windowOptions = (options: Options) =>
  Effect.all({
    validity: seconds(options.validity, "options.validity", DEFAULT_VALIDITY, Duration.seconds(1), MAX_VALIDITY),
    tolerance: seconds(options.clockTolerance, "options.clockTolerance", DEFAULT_TOLERANCE, Duration.zero, Duration.hours(1)),
    // A pinned relayer is an address, checked here, not only when a payload names a specific caller.
    relayer: options.relayer === undefined ? Effect.void : Effect.asVoid(decode(Address, "options.relayer")(options.relayer))
  })

export const retrying = <A, E extends Retried, R>(effect: Effect.Effect<A, E, R>, schedule: Options["retry"]): Effect.Effect<A, E, R> =>
  Effect.retry(effect, {
    schedule: schedule ?? Transactions.defaultRetry,
    while: (error) => {
      if (!error.transient) return false
      return Effect.as(Effect.logDebug("retrying a transient fault").pipe(Effect.annotateLogs({ code: error.code, error: error._tag })), true)
    }
  })

export const readStored = (wallet: Address, sessionPublicKey: Felt, retry: Options["retry"]) =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    const [felts, block] = yield* Effect.all([
      retrying(
        rpc.call({ contractAddress: wallet, entrypoint: SELECTORS.get_session_data, calldata: sessionKeyCalldata(sessionPublicKey) }),
        retry
      ),
      retrying(rpc.latestBlock, retry)
    ], { concurrency: 2 })
    return { data: sessionDataFromFelts(felts, block.timestamp), now: block.timestamp }
  })
