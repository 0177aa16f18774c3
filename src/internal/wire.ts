/**
 * The devnet on the wire: its `starknet_*`, `paymaster_*` and `devnet_*` methods as JSON-RPC over HTTP (batches
 * included), on `@effect/platform`'s HttpServer for Node. Injected faults show as HTTP 503, as 429 with a
 * `Retry-After`, or as a connection closed without an answer.
 */
import * as http from "node:http"
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { Duration, Effect, Schema, type Scope } from "effect"
import { STARKNET_CONTRACTS } from "../Constants.js"
import { type BlockId, Devnet, type DevnetBlock } from "../Devnet.js"
import { OutsideExecutionTypedData } from "../OutsideExecution.js"
import { Paymaster } from "../Paymaster.js"
import { Address, Call, decode, Felt, type TxHash } from "../Schemas.js"
import { StarknetRpc } from "../StarknetRpc.js"

class WireError {
  constructor(readonly code: number, readonly message: string, readonly data?: unknown) {}
}
class Transient {
  readonly _tag = "Transient"
  constructor(readonly status: number = 503) {}
}

type Params = Record<string, unknown> | ReadonlyArray<unknown> | undefined

/** A parameter by name, or by position (clients send either). */
const param = (params: Params, name: string, position: number): unknown =>
  Array.isArray(params) ? params[position] : (params as Record<string, unknown> | undefined)?.[name]

/** SNIP-29 clients may send the params object alone or as a one-element array. */
const objectParams = (params: Params): Record<string, unknown> =>
  (Array.isArray(params) ? params[0] : params) as Record<string, unknown> ?? {}

/** The admin methods' params, checked at the boundary like everything else. */
const Amount = Schema.transform(Felt, Schema.BigIntFromSelf, { strict: true, decode: (f) => BigInt(f), encode: (b) => ("0x" + b.toString(16)) as Felt })
const CreateWalletParams = Schema.Struct({
  encryptKey: Schema.String.pipe(Schema.minLength(1)),
  fund: Schema.optional(Schema.Record({ key: Schema.String, value: Amount })),
  keyFormat: Schema.optional(Schema.Literal("legacy", "v1"))
})
const MintParams = Schema.Struct({ token: Schema.String, to: Address, amount: Amount })
const BalanceParams = Schema.Struct({ token: Schema.String, account: Address })
const AdvanceParams = Schema.Struct({ seconds: Schema.Number.pipe(Schema.nonNegative()) })
const exact = <A, I>(schema: Schema.Schema<A, I>) => Schema.optionalWith(schema, { exact: true })
const FaultsParams = Schema.Struct({
  latency: exact(Schema.Number.pipe(Schema.nonNegative())),
  failNext: exact(Schema.Int.pipe(Schema.nonNegative())),
  failStatus: exact(Schema.Literal(429, 503)),
  retryAfterSeconds: exact(Schema.Number.pipe(Schema.nonNegative())),
  dropNext: exact(Schema.Int.pipe(Schema.nonNegative())),
  dropWhen: exact(Schema.Literal("before", "after")),
  faultMethods: exact(Schema.Array(Schema.String)),
  holdBlocks: exact(Schema.Int.pipe(Schema.nonNegative())),
  readLagBlocks: exact(Schema.Int.pipe(Schema.nonNegative())),
  alterTypedData: exact(Schema.Literal("calldata", "to", "selector", "chainId", "window", "caller"))
})
/** Decodes a method's params, or fails with JSON-RPC's -32602 naming what is wrong. */
const decodeParams = <A, I>(schema: Schema.Schema<A, I>) => (input: unknown) =>
  decode(schema)(input).pipe(Effect.mapError((e) => new WireError(-32602, `Invalid params: ${e.message}`)))
const paramsOf = <A, I>(schema: Schema.Schema<A, I>, params: Params) => decodeParams(schema)(objectParams(params))

/** `BLOCK_ID` of spec 0.9: a tag, `{ block_number }` or `{ block_hash }` (`pending` is gone). */
const BlockIdWire = Schema.Union(
  Schema.Literal("latest", "l1_accepted", "pre_confirmed"),
  Schema.Struct({ block_number: Schema.Int.pipe(Schema.nonNegative()) }),
  Schema.Struct({ block_hash: Felt })
)
const blockIdParam = (params: Params): Effect.Effect<BlockId, WireError> =>
  decodeParams(BlockIdWire)(param(params, "block_id", 0)).pipe(
    Effect.map((id): BlockId =>
      typeof id === "string" ? id : "block_number" in id ? { blockNumber: id.block_number } : { blockHash: id.block_hash }
    )
  )

/** `BLOCK_HEADER` and `status` of spec 0.9; the devnet charges no gas, so every price is zero. */
const blockHeader = (b: DevnetBlock) => ({
  status: b.status,
  block_hash: b.blockHash,
  parent_hash: b.parentHash,
  block_number: b.blockNumber,
  new_root: "0x0",
  timestamp: b.timestamp,
  sequencer_address: "0x0",
  l1_gas_price: { price_in_fri: "0x0", price_in_wei: "0x0" },
  l2_gas_price: { price_in_fri: "0x0", price_in_wei: "0x0" },
  l1_data_gas_price: { price_in_fri: "0x0", price_in_wei: "0x0" },
  l1_da_mode: "BLOB",
  starknet_version: "0.14.0"
})

/** `INVOKE_TXN_V3` with its hash, with the zero bounds and L1 modes its hash was computed with. */
const invokeTxn = (t: DevnetBlock["transactions"][number]) => ({
  transaction_hash: t.transactionHash,
  type: "INVOKE",
  version: "0x3",
  sender_address: t.senderAddress,
  calldata: t.calldata,
  signature: t.signature,
  nonce: t.nonce,
  resource_bounds: {
    l1_gas: { max_amount: "0x0", max_price_per_unit: "0x0" },
    l2_gas: { max_amount: "0x0", max_price_per_unit: "0x0" },
    l1_data_gas: { max_amount: "0x0", max_price_per_unit: "0x0" }
  },
  tip: "0x0",
  paymaster_data: [],
  account_deployment_data: [],
  nonce_data_availability_mode: "L1",
  fee_data_availability_mode: "L1"
})

const tokenAddress = (symbol: unknown) => {
  const token = STARKNET_CONTRACTS[String(symbol).toUpperCase() as keyof typeof STARKNET_CONTRACTS]
  return token?.contractAddress ?? String(symbol)
}

const handlers = Effect.gen(function*() {
  const rpc = yield* StarknetRpc
  const paymaster = yield* Paymaster
  const devnet = yield* Devnet
  const rpcFail = (e: { readonly _tag: string; readonly code?: number; readonly message: string; readonly transient?: boolean }): Effect.Effect<never, WireError | Transient> =>
    e.transient === true
      ? Effect.fail(new Transient(e.code))
      : e._tag === "TransactionNotFound"
      ? Effect.fail(new WireError(29, "Transaction hash not found"))
      : e.code === 40
      ? Effect.fail(new WireError(40, "Contract error", { revert_error: e.message }))
      : Effect.fail(new WireError(e.code ?? -32603, e.message))
  const pmFail = (e: { readonly code: number; readonly message: string; readonly revertReason?: string | undefined; readonly transient: boolean }): Effect.Effect<never, WireError | Transient> =>
    e.transient
      ? Effect.fail(new Transient(e.code))
      : Effect.fail(new WireError(e.code, e.message, e.revertReason !== undefined ? { execution_error: e.revertReason } : undefined))
  const invalid = (message: string) => Effect.fail(new WireError(-32602, `Invalid params: ${message}`))

  const methods: Record<string, (params: Params) => Effect.Effect<unknown, WireError | Transient>> = {
    starknet_specVersion: () => Effect.succeed("0.9.0"),
    starknet_chainId: () => rpc.chainId.pipe(Effect.catchAll(rpcFail)),
    starknet_blockNumber: () => rpc.latestBlock.pipe(Effect.map((b) => b.blockNumber), Effect.catchAll(rpcFail)),
    starknet_getBlockWithTxHashes: (params) =>
      Effect.flatMap(blockIdParam(params), (id) =>
        devnet.block(id, "starknet_getBlockWithTxHashes").pipe(
          Effect.map((b) => ({ ...blockHeader(b), transactions: b.transactions.map((t) => t.transactionHash) })),
          Effect.catchAll(rpcFail)
        )),
    starknet_getBlockWithTxs: (params) =>
      Effect.flatMap(blockIdParam(params), (id) =>
        devnet.block(id).pipe(
          Effect.map((b) => ({ ...blockHeader(b), transactions: b.transactions.map(invokeTxn) })),
          Effect.catchAll(rpcFail)
        )),
    starknet_call: (params) => {
      const request = param(params, "request", 0) as Record<string, unknown> | undefined
      if (request === undefined) return invalid("request")
      return rpc.call({
        contractAddress: String(request["contract_address"]) as never,
        entrypoint: String(request["entry_point_selector"]),
        calldata: ((request["calldata"] as Array<string> | undefined) ?? []).map((v) => "0x" + BigInt(v).toString(16) as Felt)
      }).pipe(Effect.catchAll(rpcFail))
    },
    starknet_getTransactionStatus: (params) =>
      rpc.getTransactionStatus(String(param(params, "transaction_hash", 0)) as TxHash).pipe(
        Effect.map((s) => ({
          finality_status: s.finalityStatus,
          ...(s.executionStatus !== undefined ? { execution_status: s.executionStatus } : {}),
          ...(s.revertReason !== undefined ? { failure_reason: s.revertReason } : {})
        })),
        Effect.catchAll(rpcFail)
      ),
    starknet_getTransactionReceipt: (params) =>
      rpc.getTransactionReceipt(String(param(params, "transaction_hash", 0)) as TxHash).pipe(
        Effect.map((r) => ({
          type: "INVOKE",
          transaction_hash: r.transactionHash,
          actual_fee: { amount: "0x0", unit: "FRI" },
          execution_status: r.executionStatus,
          finality_status: r.finalityStatus,
          ...(r.revertReason !== undefined ? { revert_reason: r.revertReason } : {}),
          block_number: r.blockNumber,
          block_hash: "0x" + ((r.blockNumber ?? 0) + 1).toString(16),
          messages_sent: [],
          events: r.events.map((e) => ({ from_address: e.fromAddress, keys: e.keys, data: e.data })),
          execution_resources: { l1_gas: 0, l1_data_gas: 0, l2_gas: 0 }
        })),
        Effect.catchAll(rpcFail)
      ),
    starknet_getNonce: (params) =>
      rpc.getNonce(String(param(params, "contract_address", 1)) as never).pipe(Effect.catchAll(rpcFail)),
    paymaster_isAvailable: () => paymaster.isAvailable.pipe(Effect.catchAll(pmFail)),
    paymaster_buildTransaction: (params) =>
      Effect.gen(function*() {
        const p = objectParams(params)
        const invoke = (p["transaction"] as Record<string, Record<string, unknown>> | undefined)?.["invoke"]
        if (invoke === undefined) return yield* invalid("transaction.invoke")
        const calls = yield* decode(Schema.Array(Call))(
          ((invoke["calls"] as Array<Record<string, unknown>>) ?? []).map((c) => ({ contractAddress: c["to"], entrypoint: c["selector"], calldata: c["calldata"] }))
        ).pipe(Effect.mapError((e) => new WireError(-32602, e.message)))
        const bounds = (p["parameters"] as Record<string, Record<string, unknown>> | undefined)?.["time_bounds"]
        const built = yield* paymaster.buildTransaction({
          userAddress: String(invoke["user_address"]) as never,
          calls,
          ...(bounds !== undefined
            ? { timeBounds: { executeAfter: Number(BigInt(String(bounds["execute_after"]))), executeBefore: Number(BigInt(String(bounds["execute_before"]))) } }
            : {})
        }).pipe(Effect.catchAll(pmFail))
        return {
          type: "invoke",
          typed_data: built.typedData,
          parameters: p["parameters"],
          fee: {
            gas_token_price_in_strk: "0x0",
            estimated_fee_in_strk: "0x0",
            estimated_fee_in_gas_token: "0x0",
            suggested_max_fee_in_strk: "0x0",
            suggested_max_fee_in_gas_token: "0x0"
          }
        }
      }),
    paymaster_executeTransaction: (params) =>
      Effect.gen(function*() {
        const invoke = (objectParams(params)["transaction"] as Record<string, Record<string, unknown>> | undefined)?.["invoke"]
        if (invoke === undefined) return yield* invalid("transaction.invoke")
        const typedData = yield* Schema.decodeUnknown(OutsideExecutionTypedData)(invoke["typed_data"]).pipe(
          Effect.mapError(() => new WireError(-32602, "Invalid params: typed_data"))
        )
        const { signature, userAddress } = yield* decodeParams(Schema.Struct({ userAddress: Address, signature: Schema.Array(Felt) }))({
          userAddress: invoke["user_address"],
          signature: invoke["signature"]
        })
        const result = yield* paymaster.executeTransaction({ userAddress, typedData, signature }).pipe(Effect.catchAll(pmFail))
        return { transaction_hash: result.transactionHash, tracking_id: result.transactionHash }
      }),
    // Admin methods, so that a backend in any language can drive the devnet.
    devnet_createWallet: (params) =>
      Effect.flatMap(paramsOf(CreateWalletParams, params), (p) =>
        devnet.createWallet({
          encryptKey: p.encryptKey,
          fund: Object.fromEntries(Object.entries(p.fund ?? {}).map(([k, v]) => [k.toUpperCase(), v])),
          ...(p.keyFormat !== undefined ? { keyFormat: p.keyFormat } : {})
        })),
    devnet_mint: (params) =>
      Effect.flatMap(paramsOf(MintParams, params), (p) => devnet.mint(tokenAddress(p.token), p.to, p.amount).pipe(Effect.as(true))),
    devnet_balanceOf: (params) =>
      Effect.flatMap(paramsOf(BalanceParams, params), (p) =>
        devnet.balanceOf(tokenAddress(p.token), p.account).pipe(Effect.map((b) => "0x" + b.toString(16)))),
    devnet_advanceTime: (params) =>
      Effect.flatMap(paramsOf(AdvanceParams, params), (p) =>
        devnet.advanceTime(Duration.seconds(p.seconds)).pipe(
          Effect.zipRight(devnet.blockTimestamp),
          Effect.map((timestamp) => ({ timestamp }))
        )),
    devnet_mineBlock: () => devnet.mineBlock,
    devnet_setFaults: (params) =>
      Effect.flatMap(paramsOf(FaultsParams, params), ({ latency, ...rest }) =>
        devnet.setFaults({ ...rest, ...(latency !== undefined ? { latency: Duration.millis(latency) } : {}) }).pipe(Effect.as(true))),
    devnet_clearFaults: () => devnet.clearFaults.pipe(Effect.as(true))
  }
  return methods
})

type Request = { readonly id?: unknown; readonly method?: unknown; readonly params?: Params }

/** Chipi's REST routes, under `/v1/`, answered by the same devnet. */
const restRoutes = Effect.gen(function*() {
  const rpc = yield* StarknetRpc
  const paymaster = yield* Paymaster
  const devnet = yield* Devnet
  const fail = (status: number, message: string, code: string) => HttpServerResponse.unsafeJson({ message, code }, { status })
  const pmFail = (e: { readonly message: string; readonly code: number; readonly transient: boolean }) =>
    e.transient ? Effect.fail(new Transient(e.code)) : Effect.succeed(fail(400, e.message, String(e.code)))
  return (method: string, path: string, headers: Readonly<Record<string, string | undefined>>, body: unknown) =>
    Effect.gen(function*() {
      // As Chipi does: a public key in `x-api-key` and a bearer token on every request, whatever their values.
      if (!/^pk_(dev|prod)_/.test(headers["x-api-key"] ?? "")) return fail(401, "missing or malformed x-api-key (pk_dev_… or pk_prod_…)", "UNAUTHORIZED")
      if (!/^Bearer \S+$/.test(headers["authorization"] ?? "")) return fail(401, "missing Authorization: Bearer token", "UNAUTHORIZED")
      const b = (body ?? {}) as Record<string, unknown>
      if (method === "POST" && path === "/v1/transactions/prepare-typed-data") {
        const calls = yield* decode(Schema.Array(Call))(b["calls"]).pipe(Effect.either)
        if (calls._tag === "Left") return fail(400, calls.left.message, "INVALID_INPUT")
        const now = yield* devnet.blockTimestamp
        return yield* paymaster.buildTransaction({
          userAddress: String(b["publicKey"]) as never,
          calls: calls.right,
          timeBounds: { executeAfter: now - 1, executeBefore: now + 300 }
        }).pipe(
          Effect.map((built) => HttpServerResponse.unsafeJson({ typedData: built.typedData, walletType: "CHIPI" })),
          Effect.catchAll(pmFail)
        )
      }
      if (method === "POST" && path === "/v1/transactions/execute-sponsored-transaction") {
        const typedData = yield* Schema.decodeUnknown(OutsideExecutionTypedData)(b["typedData"]).pipe(Effect.either)
        if (typedData._tag === "Left") return fail(400, "typedData is not an outside execution", "INVALID_INPUT")
        // A session signature is 4 hex felts flagged `isSessionSignature`; an owner signature is { r, s } in decimal.
        const sig = b["userSignature"] as unknown
        const signature: ReadonlyArray<string> | undefined = Array.isArray(sig)
          ? b["isSessionSignature"] === true && sig.length === 4 && sig.every((v) => typeof v === "string" && /^0x[0-9a-fA-F]+$/.test(v)) ? sig : undefined
          : typeof sig === "object" && sig !== null && typeof (sig as { r?: unknown }).r === "string" && typeof (sig as { s?: unknown }).s === "string" &&
              /^\d+$/.test((sig as { r: string }).r) && /^\d+$/.test((sig as { s: string }).s)
          ? [(sig as { r: string }).r, (sig as { s: string }).s]
          : undefined
        if (signature === undefined) {
          return fail(400, "userSignature must be { r, s } in decimal, or 4 hex felts with isSessionSignature: true", "INVALID_SIGNATURE")
        }
        return yield* paymaster.executeTransaction({
          userAddress: String(b["publicKey"]) as never,
          typedData: typedData.right,
          signature: signature.map((v) => ("0x" + BigInt(v).toString(16)) as Felt)
        }).pipe(
          Effect.map((r) => HttpServerResponse.unsafeJson({ transactionHash: r.transactionHash })),
          Effect.catchAll(pmFail)
        )
      }
      const status = /^\/v1\/transactions\/([^/]+)\/status$/.exec(path)
      if (method === "GET" && status !== null) {
        return yield* rpc.getTransactionStatus(decodeURIComponent(status[1]!) as TxHash).pipe(
          Effect.map((s) => HttpServerResponse.unsafeJson(s)),
          Effect.catchAll((e) =>
            e._tag === "TransactionNotFound"
              ? Effect.succeed(fail(404, e.message, "NOT_FOUND"))
              : e.transient
              ? Effect.fail(new Transient(e.code))
              : Effect.succeed(fail(400, e.message, String(e.code)))
          )
        )
      }
      return fail(404, `no route ${method} ${path}`, "NOT_FOUND")
    })
})

/**
 * Serves the devnet of the current context on HTTP until the scope closes; answers its URL. With `paymasterApiKey`,
 * `paymaster_*` requests want it in `x-paymaster-api-key`, as public paymasters do for sponsored mode (else SNIP-29
 * error 163).
 */
export const serve = (options: { readonly port?: number; readonly host?: string; readonly paymasterApiKey?: string } = {}): Effect.Effect<
  { readonly url: string; readonly port: number; readonly httpRequests: () => number },
  unknown,
  Scope.Scope | Devnet | StarknetRpc | Paymaster
> =>
  Effect.gen(function*() {
    const methods = yield* handlers
    const rest = yield* restRoutes
    const host = options.host ?? "127.0.0.1"
    const server = yield* NodeHttpServer.make(() => http.createServer(), { port: options.port ?? 0, host })
    const one = (request: Request, apiKey: string | undefined) =>
      Effect.suspend(() => {
        const method = typeof request.method === "string" ? methods[request.method] : undefined
        if (method === undefined) return Effect.fail(new WireError(-32601, `Method not found: ${String(request.method)}`))
        if (options.paymasterApiKey !== undefined && String(request.method).startsWith("paymaster_") && apiKey !== options.paymasterApiKey) {
          return Effect.fail(new WireError(163, "An error occurred (UNKNOWN_ERROR)", "missing or invalid x-paymaster-api-key"))
        }
        return method(request.params)
      }).pipe(
        Effect.map((result) => ({ jsonrpc: "2.0", id: request.id ?? null, result })),
        Effect.catchIf((e): e is WireError => e instanceof WireError, (e) =>
          Effect.succeed({
            jsonrpc: "2.0",
            id: request.id ?? null,
            error: { code: e.code, message: e.message, ...(e.data !== undefined ? { data: e.data } : {}) }
          }))
      )
    const devnet = yield* Devnet
    let retryAfter = 1
    let httpRequests = 0
    const app = Effect.gen(function*() {
      httpRequests++
      retryAfter = (yield* devnet.faults).retryAfterSeconds ?? 1
      const req = yield* HttpServerRequest.HttpServerRequest
      const path = new URL(req.url, "http://devnet").pathname
      if (path.startsWith("/v1/")) return yield* rest(req.method, path, req.headers, req.method === "POST" ? yield* req.json : undefined)
      const body = (yield* req.json) as Request | ReadonlyArray<Request>
      const apiKey = req.headers["x-paymaster-api-key"]
      const answer = Array.isArray(body) ? yield* Effect.forEach(body, (r) => one(r, apiKey)) : yield* one(body as Request, apiKey)
      return HttpServerResponse.unsafeJson(answer)
    }).pipe(
      Effect.catchAll((e) => {
        if (!(e instanceof Transient)) {
          return Effect.succeed(HttpServerResponse.unsafeJson({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } }))
        }
        if (e.status === 0) {
          // A dropped connection: the socket closes and no answer is written.
          return Effect.map(HttpServerRequest.HttpServerRequest, (req) => {
            NodeHttpServerRequest.toIncomingMessage(req).socket.destroy()
            return HttpServerResponse.empty({ status: 503 })
          })
        }
        return Effect.succeed(
          e.status === 429
            ? HttpServerResponse.unsafeJson({ message: "Too Many Requests" }, { status: 429, headers: { "retry-after": String(retryAfter) } })
            : HttpServerResponse.unsafeJson({ message: "Service Unavailable" }, { status: 503 })
        )
      })
    )
    yield* server.serve(app)
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    return { url: `http://${host}:${port}`, port, httpRequests: () => httpRequests }
  })
