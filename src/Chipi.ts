/**
 * Chipi's REST API as a `Paymaster`: `prepare-typed-data` builds the outside execution, `execute-sponsored-transaction`
 * sponsors and submits it; plus the transaction status route the guide reads.
 *
 * @since 0.1.0
 */
import { Config, type ConfigError, Duration, Effect, FiberRef, Layer, Option, Redacted, type Schedule, Schema } from "effect"
import { PaymasterError } from "./Errors.js"
import * as Http from "./internal/transport/http.js"
import { reasonIn, revertReasonOf } from "./internal/transport/reason.js"
import { retryTransientIfGiven } from "./internal/transport/retry.js"
import { OutsideExecutionTypedData } from "./OutsideExecution.js"
import { Paymaster } from "./Paymaster.js"
import { TransactionStatus, TxHash } from "./Schemas.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `pk_dev_…` or `pk_prod_…`, sent as `x-api-key`. */
  readonly apiPublicKey: Redacted.Redacted<string>
  /** Sent as `Authorization: Bearer …` unless a call sets its own token. */
  readonly apiSecretKey: Redacted.Redacted<string>
  /** Default `https://api.chipipay.com/v1`. */
  readonly baseUrl?: string
  readonly timeout?: Duration.DurationInput
  /**
   * Retries inside the layer, for code that uses the service directly: none by default, because the lifecycle
   * retries every read and submission with its own `retry` option (`Transactions.defaultRetry`), so that one
   * schedule is the whole policy. `executeTransaction` is never retried here: the lifecycle tells a lost answer
   * from a refusal.
   */
  readonly retry?: Schedule.Schedule<unknown, unknown>
}

/**
 * The bearer token of the calls inside `withBearerToken` (the guide passes one per call).
 *
 * @since 0.1.0
 * @category bearer
 */
export const bearerToken: FiberRef.FiberRef<Option.Option<Redacted.Redacted<string>>> = FiberRef.unsafeMake(Option.none())

/**
 * Runs an effect with its Chipi requests authorised by this bearer token.
 *
 * @since 0.1.0
 * @category bearer
 */
export const withBearerToken = (token: string | Redacted.Redacted<string> | undefined) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  token === undefined
    ? effect
    : Effect.locally(effect, bearerToken, Option.some(Redacted.isRedacted(token) ? token : Redacted.make(token)))

const API_VERSION = "2025-12-30"
// Both carry secrets: they never reach a span attribute, whatever `Headers.currentRedactedNames` says.
const REDACTED_HEADERS = ["x-api-key", "authorization"]
const Prepared = Schema.Union(
  Schema.Struct({ typedData: OutsideExecutionTypedData, walletType: Schema.optional(Schema.String) }),
  OutsideExecutionTypedData
)
const Executed = Schema.Struct({ transactionHash: TxHash })
const ErrorBody = Schema.Struct({ message: Schema.optional(Schema.String), code: Schema.optional(Schema.Union(Schema.String, Schema.Number)) })
// A message that names the account's reason without the sequencer's formatting (no quoted panic data).
const FLAT_REASON = /(?:Session|SRC9|Spending): [^"'\n]+/
const reasonOfMessage = (message: string): string | undefined =>
  reasonIn(message) ?? FLAT_REASON.exec(message)?.[0].trim().replace(/\.$/, "")

/**
 * The class hash the published SDK (`@chipi-stack/shared` 14.4, `WALLET_CLASS_HASHES.CHIPI`) sends as
 * `accountClassHash` for a CHIPI wallet: the session-key account.
 *
 * @since 0.1.0
 * @category constants
 */
export const CHIPI_ACCOUNT_CLASS_HASH = "0x053f4f8791ed5bed0fddaa553d180c664e32cfaf8316bb232ae77bb08f459f2a"

/**
 * The REST client: a `Paymaster` and the status read.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const platform = yield* Http.modules
    const { HttpClientRequest } = platform
    const http = yield* platform.HttpClient.HttpClient
    const base = (options.baseUrl ?? "https://api.chipipay.com/v1").replace(/\/$/, "")
    const timeout = Duration.decode(options.timeout ?? "15 seconds")

    // A submission is never retried here (see the SNIP-29 layer).
    const send = <A, I>(method: "GET" | "POST", path: string, body: unknown, schema: Schema.Schema<A, I>, retried = true) =>
      Effect.gen(function*() {
        const token = Option.getOrElse(yield* FiberRef.get(bearerToken), () => options.apiSecretKey)
        const url = `${base}${path}?__chipi_api_version=${API_VERSION}`
        const request = (method === "GET" ? HttpClientRequest.get(url) : HttpClientRequest.post(url)).pipe(
          HttpClientRequest.setHeaders({
            "x-api-key": Redacted.value(options.apiPublicKey),
            authorization: `Bearer ${Redacted.value(token)}`
          }),
          (r) => (body === undefined ? r : HttpClientRequest.bodyUnsafeJson(r, body))
        )
        const response = yield* Http.send(platform, http, request, { timeout, redacted: REDACTED_HEADERS }).pipe(
          Effect.mapError((e) =>
            new PaymasterError({
              code: 0,
              message: `${path}: ${e.reason === "timeout" ? "timed out" : `network error${e.detail !== undefined && e.detail !== "" ? ` (${e.detail})` : ""}`}`,
              transient: true
            })
          )
        )
        const json = Option.getOrElse(response.json, () => ({} as unknown))
        if (response.status >= 400) {
          // A 429 asks to wait: the retry comes no sooner than its Retry-After.
          const retryAfter = response.retryAfter
          if (response.status === 429 && retryAfter !== undefined) yield* Effect.sleep(Duration.seconds(retryAfter))
          const error = Schema.decodeUnknownOption(ErrorBody)(json).pipe(Option.getOrElse(() => ({ message: undefined, code: undefined })))
          const message = error.message ?? `HTTP ${response.status}`
          const reason = reasonOfMessage(message)
          const numeric = typeof error.code === "number" ? error.code : /^-?[0-9]+$/.test(error.code ?? "") ? Number(error.code) : undefined
          return yield* new PaymasterError({
            code: numeric ?? response.status,
            ...(typeof error.code === "string" && numeric === undefined ? { apiCode: error.code } : {}),
            message: `${path}: ${message}`,
            transient: response.status === 429 || response.status >= 500,
            ...(reason !== undefined ? { revertReason: reason } : {})
          })
        }
        return yield* Schema.decodeUnknown(schema)(json).pipe(
          Effect.mapError((e) => new PaymasterError({ code: -1, message: `${path}: unexpected answer: ${e.message}` }))
        )
      }).pipe(retryTransientIfGiven(retried ? options.retry : undefined))

    const paymaster = Paymaster.of({
      takesTimeBounds: false,
      isAvailable: Effect.succeed(true),
      buildTransaction: (req) =>
        send("POST", "/transactions/prepare-typed-data", {
          publicKey: req.userAddress,
          calls: req.calls.map((c) => ({ contractAddress: c.contractAddress, entrypoint: c.entrypoint, calldata: c.calldata })),
          accountClassHash: CHIPI_ACCOUNT_CLASS_HASH,
          walletType: "CHIPI"
        }, Prepared).pipe(Effect.map((r) => ({ typedData: "typedData" in r ? r.typedData : r }))),
      executeTransaction: (req) =>
        send("POST", "/transactions/execute-sponsored-transaction", {
          publicKey: req.userAddress,
          typedData: req.typedData,
          // A session signature goes as its 4 hex felts; an owner signature as { r, s } in decimal.
          ...(req.signature.length === 4
            ? { userSignature: req.signature, isSessionSignature: true }
            : { userSignature: { r: BigInt(req.signature[0]!).toString(10), s: BigInt(req.signature[1]!).toString(10) } }),
          saveToDatabase: false,
          walletType: "CHIPI"
        }, Executed, false).pipe(Effect.map((r) => ({ transactionHash: r.transactionHash })))
    })

    /** `GET /transactions/{hash}/status`, as the guide reads it. */
    const getTransactionStatus = (hash: string) =>
      send("GET", `/transactions/${encodeURIComponent(hash)}/status`, undefined, TransactionStatus).pipe(
        // A node's trace relayed as is: the account's reason is what the lifecycle maps to a typed error.
        Effect.map((status) =>
          status.revertReason === undefined ? status : { ...status, revertReason: revertReasonOf(status.revertReason) ?? status.revertReason }
        )
      )

    return { paymaster, getTransactionStatus }
  })

/**
 * Chipi's REST API as the `Paymaster`, with `fetch` as the HTTP client.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Paymaster> =>
  Layer.effect(Paymaster, Effect.map(make(options), (c) => c.paymaster)).pipe(Layer.provide(Http.fetchLayer))

/**
 * Chipi from `CHIPI_PUBLIC_KEY`, `CHIPI_SECRET_KEY` (both redacted) and `CHIPI_BASE_URL` (optional).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<Paymaster, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(
    Config.all({
      apiPublicKey: Config.redacted("CHIPI_PUBLIC_KEY"),
      apiSecretKey: Config.redacted("CHIPI_SECRET_KEY"),
      baseUrl: Config.option(Config.url("CHIPI_BASE_URL"))
    }),
    ({ apiPublicKey, apiSecretKey, baseUrl }) =>
      layer({ apiPublicKey, apiSecretKey, ...(Option.isSome(baseUrl) ? { baseUrl: baseUrl.value.toString() } : {}) })
  )
)
