/**
 * The reads the session domain needs from a Starknet node. The devnet provides one layer of this tag; the
 * JSON-RPC layer provides another.
 *
 * @since 0.1.0
 */
import { FetchHttpClient, type HttpClient } from "@effect/platform"
import { Config, type ConfigError, Context, Duration, Effect, Layer, Schedule, Schema } from "effect"
import { RpcError, TransactionNotFound } from "./Errors.js"
import * as JsonRpc from "./internal/jsonrpc.js"
import { retryTransientIfGiven } from "./internal/retry.js"
import * as Schemas from "./Schemas.js"
import type { Address, Felt, TransactionStatus, TxHash } from "./Schemas.js"

/**
 * The latest closed block.
 *
 * @since 0.1.0
 * @category models
 */
export interface BlockInfo {
  readonly blockNumber: number
  /** Seconds since the Unix epoch. */
  readonly timestamp: number
}

/**
 * An event in a receipt.
 *
 * @since 0.1.0
 * @category models
 */
export interface Event {
  readonly fromAddress: Felt
  readonly keys: ReadonlyArray<Felt>
  readonly data: ReadonlyArray<Felt>
}

/**
 * A transaction receipt.
 *
 * @since 0.1.0
 * @category models
 */
export interface Receipt {
  readonly transactionHash: TxHash
  readonly finalityStatus: TransactionStatus["finalityStatus"]
  readonly executionStatus: "SUCCEEDED" | "REVERTED"
  readonly revertReason?: string
  readonly events: ReadonlyArray<Event>
  readonly blockNumber?: number
}

/**
 * A block with its transactions (the fields the library reads).
 *
 * @since 0.2.0
 * @category models
 */
export interface BlockWithTxs {
  readonly blockNumber: number
  readonly timestamp: number
  readonly transactions: ReadonlyArray<{
    readonly transactionHash: TxHash
    readonly type: string
    readonly senderAddress?: Address
    readonly calldata: ReadonlyArray<Felt>
  }>
}

/**
 * A read-only contract call. `entrypoint` is a name or a selector.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallRequest {
  readonly contractAddress: Address
  readonly entrypoint: string
  readonly calldata: ReadonlyArray<Felt>
}

/**
 * The Starknet reads the library uses.
 *
 * @since 0.1.0
 * @category tags
 */
export class StarknetRpc extends Context.Tag("starknet-session-keys/StarknetRpc")<
  StarknetRpc,
  {
    readonly chainId: Effect.Effect<Felt, RpcError>
    readonly latestBlock: Effect.Effect<BlockInfo, RpcError>
    /** A view call at the latest block; a contract error fails with `RpcError` code 40 and the revert reason. */
    readonly call: (request: CallRequest) => Effect.Effect<ReadonlyArray<Felt>, RpcError>
    readonly getTransactionStatus: (txHash: TxHash) => Effect.Effect<TransactionStatus, RpcError | TransactionNotFound>
    readonly getTransactionReceipt: (txHash: TxHash) => Effect.Effect<Receipt, RpcError | TransactionNotFound>
    readonly getNonce: (address: Address) => Effect.Effect<Felt, RpcError>
    readonly getBlockWithTxs: (blockNumber: number) => Effect.Effect<BlockWithTxs, RpcError>
  }
>() {}

// ---------------------------------------------------------------------------------------------------------------
// Over JSON-RPC (Starknet spec 0.8 / 0.9)
// ---------------------------------------------------------------------------------------------------------------

/**
 * Options of the JSON-RPC layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpOptions {
  readonly url: string
  /** Per HTTP request (default 10 seconds). */
  readonly timeout?: Duration.DurationInput
  /**
   * Retries of transient faults (network, timeouts, 429 honouring Retry-After, 5xx) inside the layer, for code
   * that uses the service directly: none by default, because the lifecycle and `Transactions` retry every read with
   * their own `retry` option (`Transactions.defaultRetry`), so that one schedule is the whole policy.
   */
  readonly retry?: Schedule.Schedule<unknown, unknown>
  /** How long reads from different fibers are gathered into one batch request (default 5 milliseconds). */
  readonly batchWindow?: Duration.DurationInput
  /** The most requests in one batch request; more are split (default 100). */
  readonly maxBatchSize?: number
}

const FeltList = Schema.Array(Schemas.Felt)
const Block = Schema.Struct({ block_number: Schema.Number, timestamp: Schema.Number })
const BlockWithTxsWire = Schema.Struct({
  block_number: Schema.Number,
  timestamp: Schema.Number,
  transactions: Schema.Array(Schema.Struct({
    transaction_hash: Schemas.TxHash,
    type: Schema.String,
    sender_address: Schema.optional(Schemas.Address),
    calldata: Schema.optionalWith(FeltList, { default: () => [] })
  }))
})
const StatusWire = Schema.Struct({
  finality_status: Schemas.FinalityStatus,
  execution_status: Schema.optional(Schemas.ExecutionStatus),
  failure_reason: Schema.optional(Schema.String)
})
const ReceiptWire = Schema.Struct({
  transaction_hash: Schemas.TxHash,
  finality_status: Schemas.FinalityStatus,
  execution_status: Schemas.ExecutionStatus,
  revert_reason: Schema.optional(Schema.String),
  block_number: Schema.optional(Schema.Number),
  events: Schema.Array(Schema.Struct({ from_address: Schemas.Felt, keys: FeltList, data: FeltList }))
})

/** The revert reason a node puts in a CONTRACT_ERROR's data, in 0.8 or 0.9 shape. */
const revertReasonOf = (data: unknown): string | undefined => {
  if (typeof data === "string") return data
  if (typeof data === "object" && data !== null) {
    const d = data as Record<string, unknown>
    const inner = d["revert_error"] ?? d["execution_error"] ?? d["revert_reason"]
    if (typeof inner === "string") return inner
    if (inner !== undefined) return revertReasonOf(inner) ?? JSON.stringify(inner)
  }
  return undefined
}

/**
 * Builds the service over a JSON-RPC client (one HTTP request per tick, however many fibers read).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeHttp = (options: HttpOptions): Effect.Effect<StarknetRpc["Type"], never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* JsonRpc.make({
      url: options.url,
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
      ...(options.batchWindow !== undefined ? { batchWindow: options.batchWindow } : {}),
      ...(options.maxBatchSize !== undefined ? { maxBatchSize: options.maxBatchSize } : {})
    })
    const request = <A, I>(method: string, params: unknown, schema: Schema.Schema<A, I>) =>
      client.request(method, params).pipe(
        Effect.tapError((e) => (e.retryAfter !== undefined ? Effect.sleep(Duration.seconds(e.retryAfter)) : Effect.void)),
        retryTransientIfGiven(options.retry),
        Effect.flatMap((result) =>
          Schema.decodeUnknown(schema)(result).pipe(
            Effect.mapError((e) => new RpcError({ method, code: -32700, message: `unexpected answer: ${e.message}`, transient: false }))
          )
        ),
        Effect.catchTag("JsonRpcFailure", (e) =>
          Effect.fail(
            new RpcError({
              method,
              code: e.code,
              message: e.code === 40 ? revertReasonOf(e.data) ?? e.message : e.message,
              transient: e.transient
            })
          ))
      )
    const notFound = (txHash: string) => (e: RpcError): Effect.Effect<never, RpcError | TransactionNotFound> =>
      e.code === 29 ? Effect.fail(new TransactionNotFound({ txHash })) : Effect.fail(e)
    return StarknetRpc.of({
      chainId: request("starknet_chainId", [], Schemas.Felt),
      latestBlock: request("starknet_getBlockWithTxHashes", { block_id: "latest" }, Block).pipe(
        Effect.map((b) => ({ blockNumber: b.block_number, timestamp: b.timestamp }))
      ),
      call: (req) =>
        request("starknet_call", {
          request: { contract_address: req.contractAddress, entry_point_selector: Schemas.callSelector(req), calldata: req.calldata },
          block_id: "latest"
        }, FeltList),
      getTransactionStatus: (txHash) =>
        request("starknet_getTransactionStatus", { transaction_hash: txHash }, StatusWire).pipe(
          Effect.map((s) => ({
            finalityStatus: s.finality_status,
            ...(s.execution_status !== undefined ? { executionStatus: s.execution_status } : {}),
            ...(s.failure_reason !== undefined ? { revertReason: s.failure_reason } : {})
          })),
          Effect.catchTag("RpcError", notFound(txHash))
        ),
      getTransactionReceipt: (txHash) =>
        request("starknet_getTransactionReceipt", { transaction_hash: txHash }, ReceiptWire).pipe(
          Effect.map((r): Receipt => ({
            transactionHash: r.transaction_hash,
            finalityStatus: r.finality_status,
            executionStatus: r.execution_status,
            ...(r.revert_reason !== undefined ? { revertReason: r.revert_reason } : {}),
            events: r.events.map((e) => ({ fromAddress: e.from_address, keys: e.keys, data: e.data })),
            ...(r.block_number !== undefined ? { blockNumber: r.block_number } : {})
          })),
          Effect.catchTag("RpcError", notFound(txHash))
        ),
      getNonce: (address) => request("starknet_getNonce", { block_id: "latest", contract_address: address }, Schemas.Felt),
      getBlockWithTxs: (blockNumber) =>
        request("starknet_getBlockWithTxs", { block_id: { block_number: blockNumber } }, BlockWithTxsWire).pipe(
          Effect.map((b): BlockWithTxs => ({
            blockNumber: b.block_number,
            timestamp: b.timestamp,
            transactions: b.transactions.map((tx) => ({
              transactionHash: tx.transaction_hash,
              type: tx.type,
              ...(tx.sender_address !== undefined ? { senderAddress: tx.sender_address } : {}),
              calldata: tx.calldata
            }))
          }))
        )
    })
  })

/**
 * `StarknetRpc` over Starknet JSON-RPC, with `fetch` as the HTTP client.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttp = (options: HttpOptions): Layer.Layer<StarknetRpc> =>
  Layer.effect(StarknetRpc, makeHttp(options)).pipe(Layer.provide(FetchHttpClient.layer))

/**
 * `StarknetRpc` over JSON-RPC at `STARKNET_RPC_URL`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<StarknetRpc, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(Config.url("STARKNET_RPC_URL"), (url) => layerHttp({ url: url.toString() }))
)
