/**
 * Real paymasters' error shapes through the public API: a SNIP-29 paymaster answering as AVNU's does, Chipi's REST
 * API answering with the sequencer's formatted trace, and no secret in any span attribute.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { FetchHttpClient, Headers } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Redacted, Schedule, Tracer } from "effect"
import { Chipi, Crypto, Devnet, Errors, Paymaster, Schemas, Sessions, STARKNET_CONTRACTS, StarknetRpc, Transactions } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"

const PIN = "735911"
const USDC = STARKNET_CONTRACTS.USDC.contractAddress
const hex = (text: string) => "0x" + Buffer.from(text).toString("hex")
const short = (text: string) => `${hex(text)} ('${text}')`
const CHIPI_CLASS = "0x053f4f8791ed5bed0fddaa553d180c664e32cfaf8316bb232ae77bb08f459f2a"

/** A small HTTP server on 127.0.0.1 (a free port), closed with the scope. */
const loopback = (handler: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => Promise<void>) =>
  Effect.acquireRelease(
    Effect.async<http.Server>((resume) => {
      const server = http.createServer((req, res) => {
        let body = ""
        req.on("data", (chunk) => (body += chunk))
        req.on("end", () => void handler(req, body, res).catch(() => req.socket.destroy()))
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`))

const innermost = (data: unknown): string | undefined => {
  if (typeof data === "string") return data
  if (typeof data === "object" && data !== null) {
    const d = data as Record<string, unknown>
    return innermost(d["execution_error"] ?? d["error"])
  }
  return undefined
}

/**
 * Error 156 as avnu-labs/paymaster (crates/paymaster-rpc/src/lib.rs) sends it: the exact message, and `data`
 * `{ execution_error: CONTRACT_EXECUTION_ERROR }` (@starknet-io/starknet-types-09, snip-29/errors) whose frames
 * (forwarder, then the account) end in the sequencer's formatting of the account's panic.
 */
const avnu156 = (user: string, reason: string) => avnu156Formatted(user, `(${short(reason)}, ${short("ENTRYPOINT_FAILED")})`)
const avnu156Formatted = (user: string, panic: string) => ({
  code: 156,
  message: "An error occurred (TRANSACTION_EXECUTION_ERROR)",
  data: {
    execution_error: {
      contract_address: "0x127021a1b5a52d3174c2ab077c2b043c80369250d29428cee956d76ee51584f",
      class_hash: "0x6e0daa5d3d5a7d2e8a9b0d2c5a1d6d3e0f1b6f3a9b4c2e1d0f9a8b7c6d5e4f3",
      selector: Schemas.selectorOf("execute"),
      error: {
        contract_address: user,
        class_hash: CHIPI_CLASS,
        selector: Schemas.selectorOf("execute_from_outside_v2"),
        error: `Transaction execution has failed:\n0: Error in the called contract (contract address: ${user}, class hash: ${CHIPI_CLASS}, selector: ${
          Schemas.selectorOf("execute_from_outside_v2")
        }):\nExecution failed. Failure reason:\n${panic}.\n`
      }
    }
  }
})

/**
 * A SNIP-29 paymaster in front of a served devnet that answers refusals as AVNU does. `beforeExecute` may answer
 * a submission itself (a paymaster whose simulation sees a later block).
 */
const avnuLike = (
  devnetUrl: string,
  beforeExecute?: (params: { readonly user: string }) => Promise<string | undefined>,
  refusals: Array<string> = []
) =>
  loopback(async (req, body, res) => {
    const request = JSON.parse(body) as { id: number; method: string; params: any }
    if (request.method === "paymaster_executeTransaction" && beforeExecute !== undefined) {
      const params = Array.isArray(request.params) ? request.params[0] : request.params
      const refusal = await beforeExecute({ user: params.transaction.invoke.user_address })
      if (refusal !== undefined) {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ jsonrpc: "2.0", id: request.id, error: avnu156(params.transaction.invoke.user_address, refusal) }))
        return
      }
    }
    // A connection the devnet drops is dropped here too (the answer is lost on the way back).
    const upstream = await fetch(devnetUrl, { method: "POST", headers: { "content-type": "application/json" }, body })
    const answer = await upstream.json() as any
    if (answer.error?.code === 156) {
      const params = Array.isArray(request.params) ? request.params[0] : request.params
      // The devnet's own panic data (already formatted, or its flat reason), in AVNU's frames.
      const inner = innermost(answer.error.data) ?? ""
      refusals.push(inner)
      const user = params.transaction.invoke.user_address
      answer.error = inner.startsWith("(") ? avnu156Formatted(user, inner) : avnu156(user, inner)
    }
    res.writeHead(upstream.status, { "content-type": "application/json" })
    res.end(JSON.stringify(answer))
  })

// The AVNU-like proxy in front puts the devnet's panic data (its nested default, or the flat reason) in AVNU's frames.
const servedWith = (executionErrorShape: DevnetServer.ExecutionErrorShape) =>
  Effect.gen(function*() {
    const server = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0, executionErrorShape })
    const devnet = yield* Devnet.Devnet
    return { ...server, devnet }
  }).pipe(Effect.provide(Devnet.layer({ blockTime: "50 millis" })))
const served = servedWith("flat")

const wait = { schedule: Schedule.spaced("50 millis") }
const retry = Schedule.spaced("20 millis").pipe(Schedule.intersect(Schedule.recurs(4)))

const overHttp = (rpcUrl: string, paymasterUrl: string, apiKey?: string) =>
  Layer.mergeAll(
    StarknetRpc.layerHttp({ url: rpcUrl }),
    Paymaster.layerSnip29({ url: paymasterUrl, ...(apiKey !== undefined ? { apiKey: Redacted.make(apiKey) } : {}) }),
    Crypto.layer,
    Sessions.layer
  )

const register = (wallet: Schemas.WalletData, config: { readonly maxCalls: number; readonly allowedEntrypoints?: ReadonlyArray<string> }) =>
  Effect.gen(function*() {
    const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 600 })
    yield* Sessions.registerAndWait({
      encryptKey: PIN,
      wallet,
      sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, ...config }
    }, { wait })
    return session
  })

describe("a SNIP-29 paymaster that answers as AVNU does (nested 156 frames)", () => {
  it.live.each(["flat", "nested", "wrapped"] as const)("a refusal by an allow-list only the chain knows is EntrypointNotAllowed (devnet data %s)", (shape) =>
    Effect.gen(function*() {
      const { url, devnet } = yield* servedWith(shape)
      const paymasterUrl = yield* avnuLike(url)
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000n } })
      const approve = { contractAddress: USDC, entrypoint: "approve", calldata: ["0xabc", "0x1", "0x0"] }
      const session = yield* register(wallet, { maxCalls: 5, allowedEntrypoints: ["transfer"] }).pipe(Effect.provide(overHttp(url, paymasterUrl)))
      // A fresh ledger: this process never saw the registration, so only the paymaster's simulation refuses.
      const refused = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [approve] })).pipe(
        Effect.provide(overHttp(url, paymasterUrl))
      )
      expect(refused).toBeInstanceOf(Errors.EntrypointNotAllowed)
      expect(refused).toMatchObject({ entrypoint: "approve", code: "SESSION_ENTRYPOINT_NOT_ALLOWED" })
      // And straight from the served devnet's own 156, in its shape, with no proxy.
      const direct = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [approve] })).pipe(Effect.provide(overHttp(url, url)))
      expect(direct).toBeInstanceOf(Errors.EntrypointNotAllowed)
    }).pipe(Effect.scoped))

  it.live("a paymaster simulating at a later block refuses with Session: valid_until exceeded: Expired", () =>
    Effect.gen(function*() {
      const { url, devnet } = yield* served
      let validUntil = 0
      const paymasterUrl = yield* avnuLike(url, async () => {
        if (validUntil === 0) return undefined
        // The chain moves past the session's end between the library's check and the paymaster's simulation.
        const now = await Effect.runPromise(devnet.blockTimestamp)
        await Effect.runPromise(devnet.advanceTime(`${validUntil - now + 10} seconds`).pipe(Effect.zipRight(devnet.mineBlock)))
        return "Session: valid_until exceeded"
      })
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000n } })
      const layers = overHttp(url, paymasterUrl)
      const refused = yield* Effect.gen(function*() {
        const session = yield* register(wallet, { maxCalls: 5 })
        validUntil = session.validUntil
        return yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: ["0xabc", "0x1", "0x0"] }] }))
      }).pipe(Effect.provide(layers))
      expect(refused).toBeInstanceOf(Errors.Expired)
      expect(refused.code).toBe("SESSION_EXPIRED")
    }).pipe(Effect.scoped))

  it.live("a race for the last call, lost at the paymaster's simulation, is MaxCallsExceeded", () =>
    Effect.gen(function*() {
      const { url, devnet } = yield* servedWith("nested")
      const transfer = (to: string) => [{ contractAddress: USDC, entrypoint: "transfer", calldata: [to, "0x1", "0x0"] }]
      let race: (() => Promise<unknown>) | undefined
      // Another process (its own ledger, straight to the devnet) spends the session's last call first.
      const paymasterUrl = yield* avnuLike(url, async () => {
        const other = race
        race = undefined
        if (other !== undefined) await other()
        return undefined
      })
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000n } })
      const refused = yield* Effect.gen(function*() {
        const session = yield* register(wallet, { maxCalls: 1 })
        race = () =>
          Effect.runPromise(
            Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: transfer("0xe1") }, { wait }).pipe(Effect.provide(overHttp(url, url)))
          )
        return yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: transfer("0xe2") }))
      }).pipe(Effect.provide(overHttp(url, paymasterUrl)))
      expect(refused).toBeInstanceOf(Errors.MaxCallsExceeded)
      expect(refused).toMatchObject({ code: "SESSION_MAX_CALLS_EXCEEDED", maxCalls: 1, callsUsed: 1 })
      expect(yield* devnet.balanceOf(USDC, "0xe1")).toBe(1n)
      expect(yield* devnet.balanceOf(USDC, "0xe2")).toBe(0n)
    }).pipe(Effect.scoped))

  it.live("after a lost answer, the retry's SRC9: duplicated nonce in nested frames is recognised: sent once, never a bare PaymasterError", () =>
    Effect.gen(function*() {
      const { url, devnet } = yield* servedWith("nested")
      const devnetAnswers: Array<string> = []
      const paymasterUrl = yield* avnuLike(url, undefined, devnetAnswers)
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000n } })
      const outcome = yield* Effect.gen(function*() {
        const session = yield* register(wallet, { maxCalls: 5 })
        yield* devnet.setFaults({ dropNext: 1, dropWhen: "after", faultMethods: ["paymaster_executeTransaction"] })
        return yield* Effect.either(
          Sessions.execute({ encryptKey: PIN, wallet, session, calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: ["0xd2", "0x5", "0x0"] }] }, { retry })
        )
      }).pipe(Effect.provide(overHttp(url, paymasterUrl)))
      // Recognised as the earlier attempt's own nonce (not a refusal), whatever the lifecycle then makes of it.
      if (Either.isLeft(outcome)) expect(outcome.left._tag).toBe("OutcomeUnknown")
      expect(devnetAnswers.some((a) => a.includes("('SRC9: duplicated nonce')"))).toBe(true)
      yield* devnet.mineBlock
      expect(yield* devnet.balanceOf(USDC, "0xd2")).toBe(5n)
    }).pipe(Effect.scoped))

  it.live("the PaymasterError of a refusal it cannot type carries the clean reason and the exact message", () =>
    Effect.gen(function*() {
      const { url, devnet } = yield* served
      let armed = false
      const paymasterUrl = yield* avnuLike(url, async () => (armed ? "Spending: exceeds window limit" : undefined))
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000n } })
      const refused = yield* Effect.gen(function*() {
        const session = yield* register(wallet, { maxCalls: 5 })
        armed = true
        return yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: ["0xabc", "0x1", "0x0"] }] }))
      }).pipe(Effect.provide(overHttp(url, paymasterUrl)))
      expect(refused).toMatchObject({ _tag: "PaymasterError", code: 156, revertReason: "Spending: exceeds window limit" })
      expect(refused.message).toBe("An error occurred (TRANSACTION_EXECUTION_ERROR): Spending: exceeds window limit")
    }).pipe(Effect.scoped))
})

/** A Chipi REST stand-in: records requests, answers prepare with the devnet-free typed data given, refuses execute. */
const chipiLike = (answerExecute: { readonly status: number; readonly body: unknown }) =>
  Effect.gen(function*() {
    const received: Array<{ url: string; headers: http.IncomingHttpHeaders; body: any }> = []
    const url = yield* loopback(async (req, body, res) => {
      received.push({ url: req.url ?? "", headers: req.headers, body: body === "" ? undefined : JSON.parse(body) })
      res.writeHead(answerExecute.status, { "content-type": "application/json" })
      res.end(JSON.stringify(answerExecute.body))
    })
    return { url, received }
  })

const typedData = {
  types: {
    StarknetDomain: [{ name: "name", type: "shortstring" }, { name: "version", type: "shortstring" }, { name: "chainId", type: "shortstring" }, {
      name: "revision",
      type: "shortstring"
    }],
    OutsideExecution: [{ name: "Caller", type: "ContractAddress" }, { name: "Nonce", type: "felt" }, { name: "Execute After", type: "u128" }, {
      name: "Execute Before",
      type: "u128"
    }, { name: "Calls", type: "Call*" }],
    Call: [{ name: "To", type: "ContractAddress" }, { name: "Selector", type: "selector" }, { name: "Calldata", type: "felt*" }]
  },
  primaryType: "OutsideExecution",
  domain: { name: "Account.execute_from_outside", version: "2", chainId: "SN_SEPOLIA", revision: "1" },
  message: { Caller: "0x414e595f43414c4c4552", Nonce: "0x1", "Execute After": "0x1", "Execute Before": "0x2", Calls: [] }
}

describe("Chipi's REST API as the published SDK speaks it", () => {
  it.scoped("prepare-typed-data carries the CHIPI accountClassHash and walletType, as SDK 14.4's session execute sends them", () =>
    Effect.gen(function*() {
      const { received, url } = yield* chipiLike({ status: 200, body: { typedData, walletType: "CHIPI" } })
      const chipi = yield* Chipi.make({ apiPublicKey: Redacted.make("pk_dev_x"), apiSecretKey: Redacted.make("sk_dev_x"), baseUrl: `${url}/v1` })
      const built = yield* chipi.paymaster.buildTransaction({
        userAddress: "0x1234" as Schemas.Address,
        calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: ["0x1" as Schemas.Felt, "0x2" as Schemas.Felt, "0x0" as Schemas.Felt] }]
      })
      expect(built.typedData.primaryType).toBe("OutsideExecution")
      expect(received[0]!.body).toEqual({
        publicKey: "0x1234",
        calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: ["0x1", "0x2", "0x0"] }],
        accountClassHash: CHIPI_CLASS,
        walletType: "CHIPI"
      })
      expect(Chipi.CHIPI_ACCOUNT_CLASS_HASH).toBe(CHIPI_CLASS)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scoped("a refusal in the sequencer's format leaves only the reason in revertReason; the body's string code is kept", () =>
    Effect.gen(function*() {
      // The SDK (@chipi-stack/shared handleApiError) surfaces the body's `message` and `code` as they come.
      const message = `Transaction execution has failed:\n0: Error in the called contract (contract address: 0x1234, class hash: ${CHIPI_CLASS}, selector: ${
        Schemas.selectorOf("execute_from_outside_v2")
      }):\nExecution failed. Failure reason:\n(${short("Session: unauthorized selector")}, ${short("ENTRYPOINT_FAILED")}).\n`
      const { url } = yield* chipiLike({ status: 400, body: { message, code: "TRANSACTION_FAILED" } })
      const chipi = yield* Chipi.make({ apiPublicKey: Redacted.make("pk_dev_x"), apiSecretKey: Redacted.make("sk_dev_x"), baseUrl: `${url}/v1` }).pipe(
        Effect.provide(FetchHttpClient.layer)
      )
      const refused = yield* Effect.flip(chipi.paymaster.executeTransaction({
        userAddress: "0x1234" as Schemas.Address,
        typedData: typedData as any,
        signature: ["0x1", "0x2", "0x3", "0x4"] as Array<Schemas.Felt>
      }))
      expect(refused).toMatchObject({ _tag: "PaymasterError", code: 400, apiCode: "TRANSACTION_FAILED", revertReason: "Session: unauthorized selector" })
      // A message without one keeps no revertReason; a numeric string code is read as the code.
      const plain = yield* chipiLike({ status: 401, body: { message: "Invalid API key", code: "401" } })
      const other = yield* Chipi.make({ apiPublicKey: Redacted.make("pk"), apiSecretKey: Redacted.make("sk"), baseUrl: `${plain.url}/v1` }).pipe(
        Effect.provide(FetchHttpClient.layer)
      )
      const unauthorized = yield* Effect.flip(other.getTransactionStatus("0x1"))
      expect(unauthorized).toMatchObject({ code: 401 })
      expect(unauthorized.revertReason).toBeUndefined()
    }))
})

/** A tracer that keeps every span it makes, so a test can read their attributes. */
const recordingTracer = Effect.map(Effect.tracer, (native) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = native.span(name, parent, context, links, startTime, kind, options)
      spans.push(span)
      return span
    },
    context: native.context
  })
  return { tracer, spans }
})

const attributeText = (spans: ReadonlyArray<Tracer.Span>) =>
  JSON.stringify(spans.flatMap((s) => [...s.attributes.entries()].map(([k, v]) => [k, String(v)])))

describe("secrets in spans", () => {
  it.live("x-paymaster-api-key, x-api-key and the bearer reach no span attribute (redacted header names), even if the app resets them", () =>
    Effect.gen(function*() {
      const { tracer, spans } = yield* recordingTracer
      const { url, devnet } = yield* served
      const paymasterKey = "pm-secret-key-4242"
      const snip29 = Effect.gen(function*() {
        const paymaster = yield* Paymaster.Paymaster
        return yield* paymaster.isAvailable
      }).pipe(Effect.provide(Paymaster.layerSnip29({ url, apiKey: Redacted.make(paymasterKey) })))
      const { url: chipiUrl } = yield* chipiLike({ status: 200, body: { typedData } })
      const chipiCall = Effect.gen(function*() {
        const chipi = yield* Chipi.make({ apiPublicKey: Redacted.make("pk_dev_secret_99"), apiSecretKey: Redacted.make("sk_dev_secret_77"), baseUrl: `${chipiUrl}/v1` })
        return yield* chipi.paymaster.buildTransaction({ userAddress: "0x1234" as Schemas.Address, calls: [] })
      }).pipe(Effect.provide(FetchHttpClient.layer))
      // An app that narrowed the redacted names for its own reasons: the library's secrets stay redacted.
      yield* Effect.all([snip29, chipiCall]).pipe(Effect.withTracer(tracer), Effect.locally(Headers.currentRedactedNames, []))
      expect(yield* devnet.requestCount).toBeGreaterThan(0)
      const text = attributeText(spans)
      expect(text).toContain("http.request.header.x-paymaster-api-key")
      expect(text).toContain("http.request.header.x-api-key")
      for (const secret of [paymasterKey, "pk_dev_secret_99", "sk_dev_secret_77"]) expect(text).not.toContain(secret)
    }).pipe(Effect.scoped))
})

/** A Starknet node stand-in answering each method with a fixed JSON-RPC item body (an error or a result). */
const fakeNode = (answers: Record<string, { readonly error?: unknown; readonly result?: unknown }>) =>
  loopback(async (_req, body, res) => {
    const parsed = JSON.parse(body)
    const one = (r: { id: number; method: string }) => ({ jsonrpc: "2.0", id: r.id, ...answers[r.method] })
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify(Array.isArray(parsed) ? parsed.map(one) : one(parsed)))
  })

describe("Starknet RPC 0.9 error shapes (@starknet-io/starknet-types-09 api/errors, components)", () => {
  const trace = (reason: string) =>
    `Transaction execution has failed:\n0: Error in the called contract (contract address: 0x1, class hash: 0x2, selector: 0x3):\nExecution failed. Failure reason:\n(${
      short(reason)
    }, ${short("ENTRYPOINT_FAILED")}).\n`

  it.scoped("40 CONTRACT_ERROR with data.revert_error a nested frame, 41 with data.execution_error, and a receipt's formatted revert_reason", () =>
    Effect.gen(function*() {
      const hash = "0x" + "12".repeat(31)
      const url = yield* fakeNode({
        starknet_call: {
          error: {
            code: 40,
            message: "Contract error",
            data: { revert_error: { contract_address: "0x1", class_hash: "0x2", selector: "0x3", error: trace("Session: unauthorized selector") } }
          }
        },
        starknet_getNonce: { error: { code: 41, message: "Transaction execution error", data: { transaction_index: 0, execution_error: trace("SRC9: duplicated nonce") } } },
        starknet_getTransactionReceipt: {
          result: {
            transaction_hash: hash,
            finality_status: "ACCEPTED_ON_L2",
            execution_status: "REVERTED",
            revert_reason: trace("Spending: exceeds per-call"),
            block_number: 7,
            events: []
          }
        }
      })
      const rpc = yield* StarknetRpc.makeHttp({ url }).pipe(Effect.provide(FetchHttpClient.layer))
      const call = yield* Effect.flip(rpc.call({ contractAddress: "0x1" as Schemas.Address, entrypoint: "get_session_data", calldata: [] }))
      expect(call).toMatchObject({ _tag: "RpcError", code: 40, message: "Session: unauthorized selector" })
      const other = yield* Effect.flip(rpc.getNonce("0x1" as Schemas.Address))
      expect(other).toMatchObject({ code: 41, message: "SRC9: duplicated nonce" })
      const receipt = yield* rpc.getTransactionReceipt(hash as Schemas.TxHash)
      expect(receipt.revertReason).toBe("Spending: exceeds per-call")
    }))

  it.live("a PRE_CONFIRMED receipt (TXN_RECEIPT_WITH_BLOCK_INFO without block_hash) is read, and a wait does not take it as final", () =>
    Effect.gen(function*() {
      const hash = "0x" + "34".repeat(31)
      const url = yield* fakeNode({
        starknet_getTransactionStatus: { result: { finality_status: "PRE_CONFIRMED", execution_status: "SUCCEEDED" } },
        starknet_getTransactionReceipt: {
          result: {
            type: "INVOKE",
            transaction_hash: hash,
            actual_fee: { amount: "0x0", unit: "FRI" },
            finality_status: "PRE_CONFIRMED",
            execution_status: "SUCCEEDED",
            block_number: 9,
            messages_sent: [],
            events: [{ from_address: STARKNET_CONTRACTS.STRK.contractAddress, keys: ["0x99"], data: ["0x0", "0x0"] }],
            execution_resources: { l1_gas: 0, l1_data_gas: 0, l2_gas: 0 }
          }
        }
      })
      const rpc = yield* StarknetRpc.makeHttp({ url }).pipe(Effect.provide(FetchHttpClient.layer))
      const receipt = yield* rpc.getTransactionReceipt(hash as Schemas.TxHash)
      expect(receipt).toMatchObject({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED", blockNumber: 9 })
      expect(Transactions.isFinal(receipt)).toBe(false)
      const waited = yield* Effect.flip(
        Transactions.wait(hash, { schedule: Schedule.spaced("100 millis").pipe(Schedule.compose(Schedule.recurs(2))), timeout: "5 seconds" }).pipe(Effect.provideService(StarknetRpc.StarknetRpc, rpc))
      )
      expect(waited._tag).toBe("Timeout")
    }).pipe(Effect.scoped))

  it.scoped("Chipi's status route relaying a node's trace gives the account's reason", () =>
    Effect.gen(function*() {
      const { url } = yield* chipiLike({
        status: 200,
        body: { finalityStatus: "ACCEPTED_ON_L2", executionStatus: "REVERTED", revertReason: trace("Session: valid_until exceeded") }
      })
      const chipi = yield* Chipi.make({ apiPublicKey: Redacted.make("pk"), apiSecretKey: Redacted.make("sk"), baseUrl: `${url}/v1` })
      expect(yield* chipi.getTransactionStatus("0x1")).toEqual({
        finalityStatus: "ACCEPTED_ON_L2",
        executionStatus: "REVERTED",
        revertReason: "Session: valid_until exceeded"
      })
    }).pipe(Effect.provide(FetchHttpClient.layer)))
})

describe("SNIP-29 UNKNOWN_ERROR (163)", () => {
  it.scoped("its data string, as avnu-labs/paymaster sends it (crates/paymaster-rpc/src/lib.rs), is in the message", () =>
    Effect.gen(function*() {
      const url = yield* loopback(async (_req, body, res) => {
        const { id } = JSON.parse(body)
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ jsonrpc: "2.0", id, error: { code: 163, message: "An error occurred (UNKNOWN_ERROR)", data: "x-paymaster-api-key is invalid" } }))
      })
      const refused = yield* Effect.gen(function*() {
        const paymaster = yield* Paymaster.Paymaster
        return yield* Effect.flip(paymaster.isAvailable)
      }).pipe(Effect.provide(Paymaster.layerSnip29({ url, apiKey: Redacted.make("pm-wrong-key-1") })))
      expect(refused).toMatchObject({ _tag: "PaymasterError", code: 163, message: "An error occurred (UNKNOWN_ERROR): x-paymaster-api-key is invalid" })
      expect(refused.revertReason).toBeUndefined()
      expect(JSON.stringify(refused)).not.toContain("pm-wrong-key-1")
    }))
})
