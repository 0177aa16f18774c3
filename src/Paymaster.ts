/**
 * A paymaster with SNIP-29 semantics: it builds the outside-execution typed data to sign, then sponsors and
 * submits the signed transaction. The devnet provides one layer of this tag; SNIP-29 JSON-RPC and Chipi's REST
 * API provide others.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Config, type ConfigError, Context, Duration, Effect, Layer, Option, type Redacted, type Schedule, Schema } from "effect"
import { SNIP29_ERROR_NAMES } from "./Constants.js"
import { PaymasterError } from "./Errors.js"
import { fetchLayer } from "./internal/transport/http.js"
import * as JsonRpc from "./internal/transport/jsonrpc.js"
import { innermostText, reasonIn, revertReasonOf } from "./internal/transport/reason.js"
import * as Metrics from "./Metrics.js"
import { retryTransientIfGiven } from "./internal/transport/retry.js"
import { OutsideExecutionTypedData, toOutsideCalls } from "./OutsideExecution.js"
import { type Address, type Call, type Felt, type TxHash, TxHash as TxHashSchema } from "./Schemas.js"

/**
 * The validity window asked for, in seconds since the Unix epoch (both bounds strict on chain).
 *
 * @since 0.1.0
 * @category models
 */
export interface TimeBounds {
  readonly executeAfter: number
  readonly executeBefore: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface BuildTransactionRequest {
  readonly userAddress: Address
  readonly calls: ReadonlyArray<Call>
  readonly timeBounds?: TimeBounds
}

/**
 * @since 0.1.0
 * @category models
 */
export interface BuiltTransaction {
  readonly typedData: OutsideExecutionTypedData
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ExecuteTransactionRequest {
  readonly userAddress: Address
  readonly typedData: OutsideExecutionTypedData
  readonly signature: ReadonlyArray<Felt>
}

/**
 * A sponsoring paymaster.
 *
 * @since 0.1.0
 * @category tags
 */
export class Paymaster extends Context.Tag("starknet-session-keys/Paymaster")<
  Paymaster,
  {
    /** False for APIs that cannot be asked for a validity window (the returned one is then checked by length). */
    readonly takesTimeBounds?: boolean
    readonly isAvailable: Effect.Effect<boolean, PaymasterError>
    readonly buildTransaction: (request: BuildTransactionRequest) => Effect.Effect<BuiltTransaction, PaymasterError>
    /**
     * Simulates, then submits. A transaction the account would refuse fails with `PaymasterError` carrying the
     * revert reason, and nothing is sent.
     */
    readonly executeTransaction: (
      request: ExecuteTransactionRequest
    ) => Effect.Effect<{ readonly transactionHash: TxHash }, PaymasterError>
  }
>() {}

// ---------------------------------------------------------------------------------------------------------------
// SNIP-29 over JSON-RPC
// ---------------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface Snip29Options {
  readonly url: string
  /** Sent as `x-paymaster-api-key` (required for sponsored mode on public paymasters). */
  readonly apiKey?: Redacted.Redacted<string>
  readonly timeout?: Duration.DurationInput
  /**
   * Retries inside the layer, for code that uses the service directly: none by default, because the lifecycle
   * retries every read and submission with its own `retry` option (`Transactions.defaultRetry`), so that one
   * schedule is the whole policy. `executeTransaction` is never retried here: the lifecycle tells a lost answer
   * from a refusal.
   */
  readonly retry?: Schedule.Schedule<unknown, unknown>
}


const BuildResult = Schema.Struct({ typed_data: OutsideExecutionTypedData })
const ExecuteResult = Schema.Struct({ transaction_hash: TxHashSchema })

/**
 * The typed refusal of a SNIP-29 error, in every shape a paymaster sends it (the SNIP's codes and nested
 * `CONTRACT_EXECUTION_ERROR`; AVNU's 156 with a string `execution_error` for reverts, invalid signatures, invalid
 * time bounds and its duplicate filter, and 163 with a string for the API key, blacklisted calls and availability;
 * `avnu-labs/paymaster`, `paymaster-rpc` errors and `endpoint/execute.rs`).
 *
 * @since 0.1.0
 * @category errors
 */
export const paymasterErrorOf = (e: { readonly code: number; readonly message: string; readonly data?: unknown; readonly transient: boolean }): PaymasterError => {
  const name = SNIP29_ERROR_NAMES[e.code]
  const text = innermostText(e.data)
  const kind = kindOf(e.code, text)
  // A duplicate filter's answer or a bad signature carries no revert reason of the account's (a quoted one, when
  // the paymaster's simulation reached the account, is still read).
  const revertReason = e.code === 156 && kind !== "already-sent" && (kind === undefined || (text !== undefined && reasonIn(text) !== undefined))
    ? revertReasonOf(e.data)
    : undefined
  // UNKNOWN_ERROR's data is a string saying what went wrong (AVNU: "x-paymaster-api-key is invalid",
  // "blacklisted calls", "service not available"); short, and it is the only explanation given.
  const detail = revertReason ?? (e.code === 163 && typeof e.data === "string" && e.data.length <= 200 ? e.data : kind)
  return new PaymasterError({
    code: e.code,
    message: name !== undefined ? `An error occurred (${name})${detail !== undefined ? `: ${detail}` : ""}` : e.message,
    // Only an unavailable service is worth asking again; a key, a blacklist or a filter says the same next time.
    transient: kind === "unavailable" || (kind === undefined && e.transient),
    ...(revertReason !== undefined ? { revertReason } : {}),
    ...(kind !== undefined ? { kind } : {})
  })
}

const kindOf = (code: number, text: string | undefined): PaymasterError["kind"] => {
  if (code === 153) return "invalid-signature"
  if (code === 157) return "invalid-time-bounds"
  if (text === undefined) return undefined
  if (code === 156) {
    if (/tx already sent/i.test(text)) return "already-sent"
    if (/invalid time bounds/i.test(text)) return "invalid-time-bounds"
    if (/invalid signature/i.test(text) && !/SRC9: invalid signature|Account: invalid signature/.test(text)) return "invalid-signature"
    return undefined
  }
  if (code === 163) {
    if (/blacklist/i.test(text)) return "blacklisted"
    if (/api[-_ ]?key|unauthori[sz]ed|forbidden/i.test(text)) return "unauthorized"
    if (/unavailable|not available/i.test(text)) return "unavailable"
  }
  return undefined
}

/**
 * Builds a SNIP-29 paymaster over a JSON-RPC client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSnip29 = (options: Snip29Options): Effect.Effect<Paymaster["Type"], never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* JsonRpc.make({
      url: options.url,
      ...(options.apiKey !== undefined ? { headers: { "x-paymaster-api-key": options.apiKey } } : {}),
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {})
    })
    // A submission is never retried here: whoever retries it (the lifecycle does) must know that a retry can find
    // its nonce taken by an attempt whose answer was lost.
    const request = <A, I>(method: string, params: unknown, schema: Schema.Schema<A, I>, retried = true) =>
      client.request(method, params).pipe(
        Metrics.timed(Metrics.paymasterLatencyMillis, method),
        Effect.tapError((e) => (e.retryAfter !== undefined ? Effect.sleep(Duration.seconds(e.retryAfter)) : Effect.void)),
        retryTransientIfGiven(retried ? options.retry : undefined),
        Effect.flatMap((result) =>
          Schema.decodeUnknown(schema)(result).pipe(
            Effect.mapError((e) => new PaymasterError({ code: -32700, message: `unexpected answer to ${method}: ${e.message}` }))
          )
        ),
        Effect.catchTag("JsonRpcFailure", (e) => Effect.fail(paymasterErrorOf(e)))
      )
    const parameters = { version: "0x1", fee_mode: { mode: "sponsored" } }
    return Paymaster.of({
      isAvailable: request("paymaster_isAvailable", [], Schema.Boolean),
      buildTransaction: (req) =>
        request("paymaster_buildTransaction", {
          transaction: {
            type: "invoke",
            invoke: {
              user_address: req.userAddress,
              calls: toOutsideCalls(req.calls).map((c) => ({ to: c.to, selector: c.selector, calldata: c.calldata }))
            }
          },
          parameters: {
            ...parameters,
            ...(req.timeBounds !== undefined
              ? { time_bounds: { execute_after: req.timeBounds.executeAfter, execute_before: req.timeBounds.executeBefore } }
              : {})
          }
        }, BuildResult).pipe(Effect.map((r) => ({ typedData: r.typed_data }))),
      executeTransaction: (req) =>
        request("paymaster_executeTransaction", {
          transaction: { type: "invoke", invoke: { user_address: req.userAddress, typed_data: req.typedData, signature: req.signature } },
          parameters
        }, ExecuteResult, false).pipe(Effect.map((r) => ({ transactionHash: r.transaction_hash })))
    })
  })

/**
 * A SNIP-29 paymaster over JSON-RPC, with `fetch` as the HTTP client.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSnip29 = (options: Snip29Options): Layer.Layer<Paymaster> =>
  Layer.effect(Paymaster, makeSnip29(options)).pipe(Layer.provide(fetchLayer))

/**
 * A SNIP-29 paymaster at `PAYMASTER_URL`, with `PAYMASTER_API_KEY` when set.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSnip29Config: Layer.Layer<Paymaster, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(
    Config.all({ url: Config.url("PAYMASTER_URL"), apiKey: Config.option(Config.redacted("PAYMASTER_API_KEY")) }),
    ({ apiKey, url }) => layerSnip29({ url: url.toString(), ...(Option.isSome(apiKey) ? { apiKey: apiKey.value } : {}) })
  )
)
