/**
 * The reads the session domain needs from a Starknet node. The devnet provides one layer of this tag; the
 * JSON-RPC layer provides another.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Socket from "@effect/platform/Socket"
import { Config, type ConfigError, Context, Duration, Effect, Layer, Option, Schedule, Schema, type Scope } from "effect"
import { RpcError, TransactionNotFound } from "./Errors.js"
import { fetchLayer } from "./internal/transport/http.js"
import * as Metrics from "./Metrics.js"
import * as JsonRpc from "./internal/transport/jsonrpc.js"
import { panicReason, revertReasonOf } from "./internal/transport/reason.js"
import { retryTransientIfGiven } from "./internal/transport/retry.js"
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
  /** The account's reason: the short string (or `ByteArray`) the node's trace quotes, else the trace itself. */
  readonly revertReason?: string
  readonly events: ReadonlyArray<Event>
  readonly blockNumber?: number
}

/**
 * A closed block and its transactions, as much of them as the library reads: an INVOKE's `senderAddress` and
 * `calldata` (what the sender's `__execute__` receives, so a relayed `execute_from_outside_v2` is found in it). A
 * transaction without calldata (DECLARE) has an empty one; one without a sender (L1_HANDLER, DEPLOY) has none.
 *
 * @since 0.1.0
 * @category models
 */
export interface BlockWithTxs {
  readonly blockNumber: number
  /** Seconds since the Unix epoch. */
  readonly timestamp: number
  readonly transactions: ReadonlyArray<{
    readonly transactionHash: TxHash
    /** `INVOKE`, `DECLARE`, `DEPLOY_ACCOUNT`, `DEPLOY` or `L1_HANDLER`. */
    readonly type: string
    readonly senderAddress?: Address
    readonly calldata: ReadonlyArray<Felt>
  }>
}

/**
 * An account's multicall to simulate: the calls its `__execute__` receives, sent with its current nonce.
 *
 * @since 0.1.0
 * @category models
 */
export interface SimulateRequest {
  readonly account: Address
  readonly calls: ReadonlyArray<{ readonly contractAddress: Address; readonly entrypoint: string; readonly calldata: ReadonlyArray<Felt> }>
  readonly nonce: Felt
}

/**
 * One call of a trace (`FUNCTION_INVOCATION` of spec 0.9): whom it called, with what, whether it failed
 * (`is_reverted`, a failure its caller caught), what it answered (for a failed call, the panic data), and the calls
 * it made in turn.
 *
 * @since 0.1.0
 * @category models
 */
export interface Invocation {
  readonly contractAddress: Felt
  readonly selector: Felt
  readonly calldata: ReadonlyArray<Felt>
  readonly result: ReadonlyArray<Felt>
  readonly isReverted: boolean
  readonly calls: ReadonlyArray<Invocation>
}

/**
 * The execution of a transaction: its call tree, or the reason the whole transaction reverted.
 *
 * @since 0.1.0
 * @category models
 */
export type Trace =
  | { readonly _tag: "Executed"; readonly execute: Invocation }
  | { readonly _tag: "Reverted"; readonly revertReason: string }

/**
 * What a simulated multicall did: each call's outcome in order (`reverted` with the reason for a call that failed),
 * or the reason the whole transaction reverted.
 *
 * @since 0.1.0
 * @category models
 */
export type SimulatedCalls =
  | {
    readonly _tag: "Executed"
    readonly calls: ReadonlyArray<{ readonly reverted: boolean; readonly reason?: string }>
  }
  | { readonly _tag: "Reverted"; readonly revertReason: string }

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
  /**
   * Read the state after this closed block rather than at the service's head (`pre_confirmed`, the state the
   * network executes the next transaction on; see `HttpOptions.blockTag`): a read that must agree with a block read before it
   * (behind a load balancer, `latest` may be answered by a node that lags). A node that does not have the block yet
   * answers error 24.
   */
  readonly blockNumber?: number
}

/**
 * What a watch of a transaction hears, in order: a status the node sent (`starknet_subscriptionTransactionStatus`;
 * the current one first), a reorganisation notice (`starknet_subscriptionReorg`: what was heard before may be void),
 * or that the subscription is down (the connection closed, or the node refused it) or up again.
 *
 * @since 0.2.0
 * @category models
 */
export type WatchEvent =
  | { readonly _tag: "Status"; readonly status: TransactionStatus }
  | { readonly _tag: "Reorg" }
  | { readonly _tag: "Down" }
  | { readonly _tag: "Up" }

/**
 * A transaction watched over a subscription.
 *
 * @since 0.2.0
 * @category models
 */
export interface TransactionWatch {
  /** The next event, in the order heard. */
  readonly next: Effect.Effect<WatchEvent>
  /** Whether the subscription is active now. */
  readonly up: Effect.Effect<boolean>
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
    /**
     * A view call on the state the network executes on (`pre_confirmed`: after the transactions of the block being
     * built; `latest` on a node without it), or after `request.blockNumber`. A contract error fails with `RpcError`
     * code 40 and the revert reason.
     */
    readonly call: (request: CallRequest) => Effect.Effect<ReadonlyArray<Felt>, RpcError>
    readonly getTransactionStatus: (txHash: TxHash) => Effect.Effect<TransactionStatus, RpcError | TransactionNotFound>
    readonly getTransactionReceipt: (txHash: TxHash) => Effect.Effect<Receipt, RpcError | TransactionNotFound>
    /** The account's nonce on the state the network executes on (as `call` reads). */
    readonly getNonce: (address: Address) => Effect.Effect<Felt, RpcError>
    /**
     * Runs an account's multicall as its own `__execute__` would (`starknet_simulateTransactions` with
     * `SKIP_VALIDATE` and `SKIP_FEE_CHARGE`, on the state `call` reads), keeping nothing: what each call did. The
     * account runs its calls non-atomically (a failing call is caught and leaves an empty result), so this is how a
     * call that would fail inside a succeeding transaction is seen before anything is signed.
     */
    readonly simulateCalls: (request: SimulateRequest) => Effect.Effect<SimulatedCalls, RpcError>
    /**
     * The trace of an executed transaction (`starknet_traceTransaction`): its execution's call tree, or the reason
     * it reverted. A node without traces fails with `RpcError` (code -32601 or 10 `NO_TRACE_AVAILABLE`).
     */
    readonly getTransactionTrace: (txHash: TxHash) => Effect.Effect<Trace, RpcError | TransactionNotFound>
    /**
     * A closed block with its transactions, or the block being built (`"pre_confirmed"`); a block not (yet) known
     * fails with `RpcError` code 24.
     */
    readonly getBlockWithTxs: (block: number | "pre_confirmed") => Effect.Effect<BlockWithTxs, RpcError>
    /**
     * How long an execute's preflight may reuse what this service answered for the same session (its data,
     * allow-list, policies, open payloads' nonces and the latest block), instead of reading it again; absent or
     * zero: never. Only a view that lets the execute through is reused (a refusal is always read afresh), and
     * nothing else reuses it (see docs/exactly-once.md, "What the preflight reuses").
     */
    readonly preflightReuse?: Duration.Duration
    /**
     * Watches a transaction's status over a WebSocket subscription for as long as the scope lasts; absent when the
     * layer has no WebSocket URL (`HttpOptions.wsUrl`). `Transactions.wait` waits through it, and polls only while it
     * is down.
     */
    readonly watchTransaction?: (txHash: TxHash) => Effect.Effect<TransactionWatch, never, Scope.Scope>
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
  /**
   * How long an execute's preflight may reuse the session reads it made, for the next execute of the same session
   * (default 1 second, below a Starknet block's time; `0` reads every time). See `StarknetRpc.preflightReuse`.
   */
  readonly preflightReuse?: Duration.DurationInput
  /**
   * The block reads without a block number are made at (default `pre_confirmed`: the state the network executes
   * the next transaction on, so that a transaction reported SUCCEEDED while pre-confirmed is seen by the reads
   * after it). A node that does not know `pre_confirmed` (RPC before 0.9) is detected at its first refusal and
   * read at `latest` from then on.
   */
  readonly blockTag?: "pre_confirmed" | "latest"
  /**
   * The node's WebSocket URL (`ws://` or `wss://`, RPC 0.9): waits then hear each status change through
   * `starknet_subscribeTransactionStatus` (one subscription per watched hash, all on one connection) instead of
   * polling, and poll only while the connection is down; `latestBlock` (the preflight's view of the chain's head) is
   * the newest header heard through `starknet_subscribeNewHeads`, subscribed at its first read, and read over HTTP
   * only while there is none (before the first header, while the connection is down, after a reorganisation notice).
   * On a connection gone silent, a header is at most as old as the heartbeat lets the connection live. The WebSocket class is `@effect/platform`'s
   * `Socket.WebSocketConstructor` when the context has one, else the global `WebSocket`, else
   * `@effect/platform-node`'s (an optional peer).
   */
  readonly wsUrl?: string
  /**
   * With a `wsUrl`: whether reads go over the WebSocket connection while it is open (default true), so that an
   * execute's reads (the session's state, the nonce, the simulation) cost no HTTP request; they go over HTTP while
   * it is not open, and a read the connection drops or leaves unanswered for the `timeout` is sent again over HTTP.
   * Pathfinder, Juno and Madara serve the whole JSON-RPC API on their WebSocket endpoint. `false` keeps every read
   * on HTTP (a `wsUrl` of another node than `url`).
   */
  readonly readsOverWebSocket?: boolean
  /** When to connect again after the connection closes (default: after 100 ms, growing to every 5 s, jittered). */
  readonly reconnect?: Schedule.Schedule<unknown, unknown>
  /**
   * How often a request checks that the connection still answers (default 10 seconds); one not answered within the
   * request timeout closes it, so a wait never hangs on a dead socket.
   */
  readonly heartbeat?: Duration.DurationInput
}

const FeltList = Schema.Array(Schemas.Felt)
const Block = Schema.Struct({ block_number: Schema.Number, timestamp: Schema.Number })
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

/**
 * `FUNCTION_INVOCATION` of spec 0.9 (`@starknet-io/starknet-types-09`, `api/components`), as much as the library
 * reads: `is_reverted` is optional (nodes before 0.8 do not send it; a call there never failed alone).
 */
interface InvocationWire {
  readonly contract_address: Felt
  readonly entry_point_selector: Felt
  readonly calldata: ReadonlyArray<Felt>
  readonly result: ReadonlyArray<Felt>
  readonly calls: ReadonlyArray<InvocationWire>
  readonly is_reverted?: boolean | undefined
}
const InvocationWire: Schema.Schema<InvocationWire, unknown> = Schema.Struct({
  contract_address: Schemas.Felt,
  entry_point_selector: Schemas.Felt,
  calldata: FeltList,
  result: FeltList,
  calls: Schema.Array(Schema.suspend((): Schema.Schema<InvocationWire, unknown> => InvocationWire)),
  is_reverted: Schema.optional(Schema.Boolean)
}) as unknown as Schema.Schema<InvocationWire, unknown>
/** `INVOKE_TXN_TRACE`: `execute_invocation` is a call tree, or `{ revert_reason }` when the transaction reverted. */
const TraceWire = Schema.Struct({
  execute_invocation: Schema.Union(Schema.Struct({ revert_reason: Schema.String }), InvocationWire)
})
const SimulationWire = Schema.Array(Schema.Struct({ transaction_trace: TraceWire }))

const toInvocation = (w: InvocationWire): Invocation => ({
  contractAddress: w.contract_address,
  selector: w.entry_point_selector,
  calldata: w.calldata,
  result: w.result,
  isReverted: w.is_reverted === true,
  calls: w.calls.map(toInvocation)
})
const toTrace = (t: typeof TraceWire.Type): Trace =>
  "revert_reason" in t.execute_invocation
    ? { _tag: "Reverted", revertReason: revertReasonOf(t.execute_invocation.revert_reason) ?? t.execute_invocation.revert_reason }
    : { _tag: "Executed", execute: toInvocation(t.execute_invocation as InvocationWire) }

/**
 * The outcome of each of `calls` in the trace of the account's `__execute__` (or `execute_from_outside_v2`) that ran
 * them: its direct calls, matched in order by contract and selector.
 *
 * @since 0.1.0
 * @category trace
 */
export const callOutcomes = (
  frame: Invocation,
  calls: SimulateRequest["calls"]
): ReadonlyArray<{ readonly reverted: boolean; readonly reason?: string }> | undefined => {
  const out: Array<{ readonly reverted: boolean; readonly reason?: string }> = []
  let at = 0
  for (const call of calls) {
    const to = BigInt(call.contractAddress)
    const selector = BigInt(Schemas.callSelector(call))
    while (at < frame.calls.length && !(BigInt(frame.calls[at]!.contractAddress) === to && BigInt(frame.calls[at]!.selector) === selector)) at++
    const inner = frame.calls[at++]
    if (inner === undefined) return undefined
    if (!inner.isReverted) out.push({ reverted: false })
    else {
      const reason = panicReason(inner.result.map(BigInt))
      out.push({ reverted: true, ...(reason !== undefined ? { reason } : {}) })
    }
  }
  return out
}

/** Finds the frame, depth first, where `account` ran its calls through `selector`. */
export const findFrame = (root: Invocation, account: Felt, selector: Felt): Invocation | undefined => {
  const stack = [root]
  while (stack.length > 0) {
    const f = stack.pop()!
    if (BigInt(f.contractAddress) === BigInt(account) && BigInt(f.selector) === BigInt(selector)) return f
    for (let i = f.calls.length - 1; i >= 0; i--) stack.push(f.calls[i]!)
  }
  return undefined
}

/** Enough L2 gas for any multicall a session sends; at price 0 and `SKIP_FEE_CHARGE` it costs nothing. */
const SIMULATION_L2_GAS = "0x3b9aca00"
/** The query version of INVOKE v3 (2^128 + 3): a simulation is never a transaction anyone could send. */
const QUERY_VERSION_3 = "0x100000000000000000000000000000003"
const NO_BOUND = { max_amount: "0x0", max_price_per_unit: "0x0" }
const hexOf = (n: number) => "0x" + n.toString(16)
/** `Array<Call>` serialized as an account's `__execute__` reads it. */
const serializeCalls = (calls: SimulateRequest["calls"]): ReadonlyArray<string> => [
  hexOf(calls.length),
  ...calls.flatMap((c) => [c.contractAddress, Schemas.callSelector(c), hexOf(c.calldata.length), ...c.calldata])
]

/**
 * `BLOCK_WITH_TXS` of spec 0.9 (`@starknet-io/starknet-types-09`, `api/components`): the header's number and
 * timestamp, and of each `TXN_WITH_HASH` its hash, type, and where the type has them `sender_address` and
 * `calldata` (INVOKE v0 has `contract_address` instead of a sender; DEPLOY_ACCOUNT has `constructor_calldata`).
 */
const BlockWithTxsWire = Schema.Struct({
  block_number: Schema.Number,
  timestamp: Schema.Number,
  transactions: Schema.Array(Schema.Struct({
    transaction_hash: Schemas.TxHash,
    type: Schema.String,
    sender_address: Schema.optional(Schemas.Address),
    calldata: Schema.optional(FeltList)
  }))
})

/** One JSON-RPC read: timed, transient faults retried when a schedule is given, the answer decoded, a failure an `RpcError`. */
const requestWith = (client: JsonRpc.Client, retry: HttpOptions["retry"]) =>
<A, I>(method: string, params: unknown, schema: Schema.Schema<A, I>) =>
  client.request(method, params).pipe(
    Metrics.timed(Metrics.rpcLatencyMillis, method),
    Effect.tapError((e) => (e.retryAfter !== undefined ? Effect.sleep(Duration.seconds(e.retryAfter)) : Effect.void)),
    retryTransientIfGiven(retry),
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
          message: e.code === 40 || e.code === 41 ? revertReasonOf(e.data) ?? e.message : e.message,
          transient: e.transient
        })
      ))
  )

type Request = ReturnType<typeof requestWith>

/**
 * Reads without a block number go to the head; a node that does not know `pre_confirmed` is asked once more
 * whether it has that block at all, and read at `latest` from then on.
 */
const headReader = (request: Request, blockTag: "pre_confirmed" | "latest") => {
  let head = blockTag
  const lacksTag = (e: RpcError) => e.code === -32602 || e.code === 24 || e.code === -32601
  return <A, I>(method: string, params: (tag: string) => unknown, schema: Schema.Schema<A, I>) =>
    Effect.suspend(() => {
      const tag = head
      const read = request(method, params(tag), schema)
      if (tag !== "pre_confirmed") return read
      return read.pipe(Effect.catchIf(lacksTag, (refused) =>
        request("starknet_getBlockWithTxHashes", { block_id: "pre_confirmed" }, Schema.Unknown).pipe(
          Effect.matchEffect({
            onFailure: (probe) => {
              if (!lacksTag(probe)) return Effect.fail(refused)
              head = "latest"
              return Effect.logWarning("the node does not serve pre_confirmed (RPC before 0.9): reads are made at latest").pipe(
                Effect.zipRight(request(method, params("latest"), schema))
              )
            },
            onSuccess: () => Effect.fail(refused)
          })
        )))
    })
}

/** Simulates the calls as the account's INVOKE v3 of query version, validation and fee skipped: what each call does. */
const simulate = (atHead: ReturnType<typeof headReader>, req: SimulateRequest) =>
  atHead("starknet_simulateTransactions", (tag) => ({
    block_id: tag,
    transactions: [{
      type: "INVOKE",
      version: QUERY_VERSION_3,
      sender_address: req.account,
      calldata: serializeCalls(req.calls),
      signature: [],
      nonce: req.nonce,
      resource_bounds: { l1_gas: NO_BOUND, l1_data_gas: NO_BOUND, l2_gas: { max_amount: SIMULATION_L2_GAS, max_price_per_unit: "0x0" } },
      tip: "0x0",
      paymaster_data: [],
      account_deployment_data: [],
      nonce_data_availability_mode: "L1",
      fee_data_availability_mode: "L1"
    }],
    simulation_flags: ["SKIP_VALIDATE", "SKIP_FEE_CHARGE"]
  }), SimulationWire).pipe(
    Effect.flatMap((answers) => {
      const trace = answers[0] === undefined ? undefined : toTrace(answers[0].transaction_trace)
      if (trace === undefined) {
        return Effect.fail(new RpcError({ method: "starknet_simulateTransactions", code: -32700, message: "unexpected answer: no trace", transient: false }))
      }
      if (trace._tag === "Reverted") return Effect.succeed<SimulatedCalls>(trace)
      const calls = callOutcomes(trace.execute, req.calls)
      return calls === undefined
        ? Effect.fail(new RpcError({ method: "starknet_simulateTransactions", code: -32700, message: "unexpected answer: the trace does not show every call", transient: false }))
        : Effect.succeed<SimulatedCalls>({ _tag: "Executed", calls })
    })
  )

const toBlockWithTxs = (b: typeof BlockWithTxsWire.Type): BlockWithTxs => ({
  blockNumber: b.block_number,
  timestamp: b.timestamp,
  transactions: b.transactions.map((t) => ({
    transactionHash: t.transaction_hash,
    type: t.type,
    ...(t.sender_address !== undefined ? { senderAddress: t.sender_address } : {}),
    calldata: t.calldata ?? []
  }))
})

/**
 * Builds the service over a JSON-RPC client (one HTTP request per tick, however many fibers read).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeHttp = (options: HttpOptions): Effect.Effect<StarknetRpc["Type"], never, HttpClient.HttpClient> => makeOver(options, undefined)

/** `makeHttp`, each read tried first over `route` (the WebSocket connection of `makeWatching`). */
const makeOver = (options: HttpOptions, route: JsonRpc.Route | undefined): Effect.Effect<StarknetRpc["Type"], never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* JsonRpc.make({
      url: options.url,
      ...(route !== undefined ? { route } : {}),
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
      ...(options.batchWindow !== undefined ? { batchWindow: options.batchWindow } : {}),
      ...(options.maxBatchSize !== undefined ? { maxBatchSize: options.maxBatchSize } : {}),
      // Every read is at `latest` (or of a closed block or a transaction), the same for every fiber asking within
      // one window: 1,000 executes preflighting together read the latest block once, not 1,000 times.
      shareIdentical: true
    })
    const request = requestWith(client, options.retry)
    const atHead = headReader(request, options.blockTag ?? "pre_confirmed")
    const notFound = (txHash: string) => (e: RpcError): Effect.Effect<never, RpcError | TransactionNotFound> =>
      e.code === 29 ? Effect.fail(new TransactionNotFound({ txHash })) : Effect.fail(e)
    // An endpoint's chain id does not change: read once per layer (a failed read is not kept, the next one retries).
    let knownChainId: Felt | undefined
    const readChainId = request("starknet_chainId", [], Schemas.Felt).pipe(Effect.tap((id) => {
      knownChainId = id
    }))
    return StarknetRpc.of({
      preflightReuse: Duration.decode(options.preflightReuse ?? "1 second"),
      chainId: Effect.suspend(() => knownChainId !== undefined ? Effect.succeed(knownChainId) : readChainId),
      latestBlock: request("starknet_getBlockWithTxHashes", { block_id: "latest" }, Block).pipe(
        Effect.map((b) => ({ blockNumber: b.block_number, timestamp: b.timestamp }))
      ),
      call: (req) => {
        const body = { contract_address: req.contractAddress, entry_point_selector: Schemas.callSelector(req), calldata: req.calldata }
        return req.blockNumber !== undefined
          ? request("starknet_call", { request: body, block_id: { block_number: req.blockNumber } }, FeltList)
          : atHead("starknet_call", (tag) => ({ request: body, block_id: tag }), FeltList)
      },
      simulateCalls: (req) => simulate(atHead, req),
      getTransactionTrace: (txHash) =>
        request("starknet_traceTransaction", { transaction_hash: txHash }, TraceWire).pipe(
          Effect.map(toTrace),
          Effect.catchTag("RpcError", notFound(txHash))
        ),
      getTransactionStatus: (txHash) =>
        request("starknet_getTransactionStatus", { transaction_hash: txHash }, StatusWire).pipe(
          Effect.map((s) => ({
            finalityStatus: s.finality_status,
            ...(s.execution_status !== undefined ? { executionStatus: s.execution_status } : {}),
            ...(s.failure_reason !== undefined ? { revertReason: revertReasonOf(s.failure_reason) ?? s.failure_reason } : {})
          })),
          Effect.catchTag("RpcError", notFound(txHash))
        ),
      getTransactionReceipt: (txHash) =>
        request("starknet_getTransactionReceipt", { transaction_hash: txHash }, ReceiptWire).pipe(
          Effect.map((r): Receipt => ({
            transactionHash: r.transaction_hash,
            finalityStatus: r.finality_status,
            executionStatus: r.execution_status,
            ...(r.revert_reason !== undefined ? { revertReason: revertReasonOf(r.revert_reason) ?? r.revert_reason } : {}),
            events: r.events.map((e) => ({ fromAddress: e.from_address, keys: e.keys, data: e.data })),
            ...(r.block_number !== undefined ? { blockNumber: r.block_number } : {})
          })),
          Effect.catchTag("RpcError", notFound(txHash))
        ),
      getNonce: (address) => atHead("starknet_getNonce", (tag) => ({ block_id: tag, contract_address: address }), Schemas.Felt),
      getBlockWithTxs: (block) =>
        request("starknet_getBlockWithTxs", { block_id: block === "pre_confirmed" ? block : { block_number: block } }, BlockWithTxsWire).pipe(
          Effect.map(toBlockWithTxs)
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
  options.wsUrl === undefined
    ? Layer.effect(StarknetRpc, makeHttp(options)).pipe(Layer.provide(fetchLayer))
    : Layer.scoped(StarknetRpc, makeWatching({ ...options, wsUrl: options.wsUrl })).pipe(Layer.provide(fetchLayer))

/**
 * The WebSocket class: the context's, else the global one (Node 22, browsers), else `@effect/platform-node`'s.
 */
const webSocketConstructor: Effect.Effect<Context.Tag.Service<typeof Socket.WebSocketConstructor>> = Effect.gen(function*() {
  const Socket: typeof import("@effect/platform/Socket") = yield* Effect.promise(() => import("@effect/platform/Socket"))
  const given = yield* Effect.serviceOption(Socket.WebSocketConstructor)
  if (Option.isSome(given)) return given.value
  const layer = "WebSocket" in globalThis
    ? Socket.layerWebSocketConstructorGlobal
    : (yield* Effect.promise(() => import("@effect/platform-node/NodeSocket"))).layerWebSocketConstructor
  return yield* Effect.provide(Socket.WebSocketConstructor, layer)
})

/**
 * Builds the service over JSON-RPC with a WebSocket connection kept for as long as the scope lasts: waits watch
 * through it, and the latest block is the newest header heard on a `starknet_subscribeNewHeads` subscription (see
 * `HttpOptions.wsUrl`).
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeWatching = (
  options: HttpOptions & { readonly wsUrl: string }
): Effect.Effect<StarknetRpc["Type"], never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const [Watch, Socket, constructor] = yield* Effect.all([
      Effect.promise(() => import("./internal/transport/watch.js")),
      Effect.promise(() => import("@effect/platform/Socket")),
      webSocketConstructor
    ])
    const watcher = yield* Watch.make({
      url: options.wsUrl,
      reconnect: options.reconnect ?? Watch.defaultReconnect,
      heartbeat: Duration.decode(options.heartbeat ?? "10 seconds"),
      requestTimeout: Duration.decode(options.timeout ?? "10 seconds"),
      onReconnect: Metrics.reconnected
    }).pipe(Effect.provideService(Socket.WebSocketConstructor, constructor))
    // Reads go over the connection while it is open (see `HttpOptions.readsOverWebSocket`).
    const rpc = yield* makeOver(options, options.readsOverWebSocket === false ? undefined : watcher.carry)
    return {
      ...rpc,
      // The newest header heard on the heads subscription (made at the first read): no HTTP request while the
      // connection is up; over HTTP before the first header, while the connection is down, and after a reorganisation
      // notice until the node sends the headers again.
      latestBlock: Effect.suspend(() => {
        const head = watcher.latestHead()
        return head !== undefined ? Effect.succeed(head) : rpc.latestBlock
      }),
      watchTransaction: watcher.watch
    }
  })

/**
 * `StarknetRpc` over JSON-RPC at `STARKNET_RPC_URL`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<StarknetRpc, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(Config.url("STARKNET_RPC_URL"), (url) => layerHttp({ url: url.toString() }))
)
