/**
 * Waits through WebSocket subscriptions (RPC 0.9 `starknet_subscribeTransactionStatus`, starknet-specs v0.9.0
 * `api/starknet_ws_api.json`), against the served devnet: no status polls while the connection is up; polls while
 * it is down; reconnection; reorganisation notices. HTTP requests are counted by a proxy, by JSON-RPC method.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Duration, Effect, Fiber, Layer, Metric } from "effect"
import { Devnet, Metrics, type Schemas, StarknetRpc, Transactions } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import { createClient, InvalidInput } from "starknet-session-keys/promise"
import * as keystore from "../src/internal/crypto/keystore.js"
import { PIN, signOutside, transfer, USDC } from "./helpers/chain.js"
import { countingProxy, tcpProxy } from "./helpers/ws.js"

const STATUS = "starknet_getTransactionStatus"
const BLOCK = "starknet_getBlockWithTxHashes"

/** Funded wallets' signed transfers, submitted as the relayer: transactions that succeed. */
const submitTransfers = (n: number) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const hashes: Array<string> = []
    const w = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
    const key = keystore.decryptLegacy(w.encryptedPrivateKey, PIN)
    const signed = []
    for (let i = 0; i < n; i++) signed.push(yield* signOutside(w.publicKey, [transfer("0xb0b", 1n)], { key }))
    for (const { calldata } of signed) hashes.push(yield* devnet.submitOutside(w.publicKey, calldata))
    return hashes
  })

const setup = (blockTime: Duration.DurationInput) =>
  Effect.gen(function*() {
    const served = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
    const http = yield* countingProxy(served.url)
    const ws = yield* tcpProxy(served.wsUrl)
    return { devnet: yield* Devnet.Devnet, served, http, ws, blockTime }
  })

const live = <A, E>(blockTime: Duration.DurationInput, effect: Effect.Effect<A, E, any>) =>
  effect.pipe(Effect.scoped, Effect.provide(Devnet.layer({ blockTime }))) as Effect.Effect<A, E>

/** Once the connection through the proxy is open and the subscriptions had time to be made (bounded: 10 s). */
const connected = (ws: { readonly accepted: () => number }) =>
  Effect.gen(function*() {
    for (let i = 0; ws.accepted() === 0; i++) {
      if (i === 1000) return yield* Effect.dieMessage("timed out after 10 s waiting for the WebSocket connection through the proxy")
      yield* Effect.sleep("10 millis")
    }
    yield* Effect.sleep("300 millis")
  })

/** All the waits, on one layer (one connection), each bounded. */
const waitAll = (hashes: ReadonlyArray<string>, options: StarknetRpc.HttpOptions, timeout: Duration.DurationInput = "20 seconds") =>
  Effect.forEach(hashes, (h) => Transactions.wait(h, { timeout }), { concurrency: "unbounded" }).pipe(
    Effect.provide(StarknetRpc.layerHttp(options))
  )

describe("Transactions.wait with a WebSocket URL", () => {
  it.live("resolves through the subscriptions with no status poll: 50 waits, one connection", () =>
    live("300 millis", Effect.gen(function*() {
      const { http, ws } = yield* setup("300 millis")
      const hashes = yield* submitTransfers(50)
      const receipts = yield* waitAll(hashes, { url: http.url, wsUrl: ws.url })
      expect(receipts.map((r) => r.transactionHash)).toEqual(hashes)
      for (const r of receipts) expect(r.executionStatus).toBe("SUCCEEDED")
      expect(http.count(STATUS)).toBe(0)
      expect(ws.accepted()).toBe(1)
    })))

  it.live("without a WebSocket URL the same waits poll (the count above is not vacuous)", () =>
    live("300 millis", Effect.gen(function*() {
      const { http } = yield* setup("300 millis")
      const hashes = yield* submitTransfers(5)
      yield* waitAll(hashes, { url: http.url })
      expect(http.count(STATUS)).toBeGreaterThan(0)
    })))

  it.live("the socket cut mid-wait and the node unreachable: the waits poll and all end, each once", () =>
    live("300 millis", Effect.gen(function*() {
      const { devnet, http, ws } = yield* setup("300 millis")
      // Held for a few blocks: the waits are still pending when the socket is cut.
      yield* devnet.setFaults({ holdBlocks: 10 })
      const hashes = yield* submitTransfers(10)
      const fallbacks = (yield* Metric.value(Metrics.watchFallbacks)).count
      const cut = Effect.gen(function*() {
        // Once every wait has subscribed (the current status heard), cut the connection and refuse new ones.
        yield* connected(ws)
        ws.refuse(true)
        ws.kill()
      })
      const [receipts] = yield* Effect.all([waitAll(hashes, { url: http.url, wsUrl: ws.url }), cut], { concurrency: "unbounded" })
      expect(receipts.map((r) => r.transactionHash)).toEqual(hashes)
      for (const r of receipts) expect(r.executionStatus).toBe("SUCCEEDED")
      expect(http.count(STATUS)).toBeGreaterThan(0)
      expect((yield* Metric.value(Metrics.watchFallbacks)).count - fallbacks).toBeGreaterThanOrEqual(10)
    })))

  it.live("the socket cut mid-wait and the node reachable again: reconnected, re-subscribed, all end", () =>
    live("300 millis", Effect.gen(function*() {
      const { devnet, http, ws } = yield* setup("300 millis")
      yield* devnet.setFaults({ holdBlocks: 10 })
      const hashes = yield* submitTransfers(10)
      const reconnects = (yield* Metric.value(Metrics.subscriptionReconnects)).count
      const cut = Effect.gen(function*() {
        yield* connected(ws)
        ws.kill()
      })
      // Polls every 10 s at most: the waits end through the new connection, well before a poll would see them.
      const slowPolling = Transactions.spaced("10 seconds")
      const [receipts] = yield* Effect.all([
        Effect.forEach(hashes, (h) => Transactions.wait(h, { timeout: "20 seconds", schedule: slowPolling }), { concurrency: "unbounded" }).pipe(
          Effect.provide(StarknetRpc.layerHttp({ url: http.url, wsUrl: ws.url }))
        ),
        cut
      ], { concurrency: "unbounded" })
      expect(receipts.map((r) => r.transactionHash)).toEqual(hashes)
      expect(ws.accepted()).toBeGreaterThanOrEqual(2)
      expect((yield* Metric.value(Metrics.subscriptionReconnects)).count - reconnects).toBeGreaterThanOrEqual(1)
      // At most the one look each wait makes when the socket goes down.
      expect(http.count(STATUS)).toBeLessThanOrEqual(hashes.length)
    })))

  it.live("the devnet drops the connection itself (a fault on the heartbeat's request): reconnected, re-subscribed, every wait ends once", () =>
    live("300 millis", Effect.gen(function*() {
      const { devnet, http, served } = yield* setup("300 millis")
      yield* devnet.setFaults({ holdBlocks: 5 })
      const hashes = yield* submitTransfers(10)
      const reconnects = (yield* Metric.value(Metrics.subscriptionReconnects)).count
      // The first heartbeat over the socket (200 ms after it opens) loses its connection: the server closes it.
      yield* devnet.setFaults({ dropNext: 1, faultMethods: ["starknet_specVersion"] })
      const receipts = yield* Effect.forEach(
        hashes,
        (h) => Transactions.wait(h, { timeout: "20 seconds", schedule: Transactions.spaced("10 seconds") }),
        { concurrency: "unbounded" }
      ).pipe(Effect.provide(StarknetRpc.layerHttp({ url: http.url, wsUrl: served.wsUrl, heartbeat: "200 millis" })))
      expect(receipts.map((r) => r.transactionHash)).toEqual(hashes)
      for (const r of receipts) expect(r.executionStatus).toBe("SUCCEEDED")
      expect((yield* devnet.faults).dropNext).toBe(0)
      expect((yield* Metric.value(Metrics.subscriptionReconnects)).count - reconnects).toBeGreaterThanOrEqual(1)
      // At most the one look each wait makes when the socket goes down.
      expect(http.count(STATUS)).toBeLessThanOrEqual(hashes.length)
    })))

  it.live("a connection gone silent (nothing closed) is found by the heartbeat: the waits poll and end", () =>
    live("300 millis", Effect.gen(function*() {
      const { devnet, http, ws } = yield* setup("300 millis")
      yield* devnet.setFaults({ holdBlocks: 10 })
      const hashes = yield* submitTransfers(5)
      const fallbacks = (yield* Metric.value(Metrics.watchFallbacks)).count
      const freeze = Effect.gen(function*() {
        yield* connected(ws)
        ws.refuse(true)
        ws.freeze()
      })
      const [receipts] = yield* Effect.all([
        waitAll(hashes, { url: http.url, wsUrl: ws.url, heartbeat: "200 millis", timeout: "500 millis" }),
        freeze
      ], { concurrency: "unbounded" })
      expect(receipts.map((r) => r.transactionHash)).toEqual(hashes)
      expect(http.count(STATUS)).toBeGreaterThan(0)
      expect((yield* Metric.value(Metrics.watchFallbacks)).count - fallbacks).toBeGreaterThanOrEqual(5)
    })))

  it.live("no WebSocket server at the URL: the waits poll and end", () =>
    live("300 millis", Effect.gen(function*() {
      const { http, ws } = yield* setup("300 millis")
      ws.refuse(true)
      const hashes = yield* submitTransfers(3)
      const receipts = yield* waitAll(hashes, { url: http.url, wsUrl: ws.url })
      expect(receipts.map((r) => r.transactionHash)).toEqual(hashes)
      expect(http.count(STATUS)).toBeGreaterThan(0)
    })))

  it.live("a reorganisation notice: the status is read again (never taken final from what was heard before), the wait ends once", () =>
    live("300 millis", Effect.gen(function*() {
      const { devnet, http, ws } = yield* setup("300 millis")
      yield* devnet.setFaults({ holdBlocks: 10 })
      const [hash] = yield* submitTransfers(1)
      const reorg = Effect.gen(function*() {
        yield* connected(ws)
        yield* devnet.setFaults({ reorgBlocks: 1 })
      })
      // Reads kept on HTTP, where the proxy counts them.
      const [[receipt]] = yield* Effect.all([waitAll([hash!], { url: http.url, wsUrl: ws.url, readsOverWebSocket: false }), reorg], {
        concurrency: "unbounded"
      })
      expect(receipt!.transactionHash).toBe(hash)
      // The notice made the wait read the status once itself.
      expect(http.count(STATUS)).toBe(1)
    })))

  it.live("a status that goes back (a node whose view lags) is read again, never taken as heard; the wait ends once, when the node shows it final", () =>
    live("1 hour", Effect.gen(function*() {
      const { devnet, http, ws } = yield* setup("1 hour")
      yield* devnet.setFaults({ holdBlocks: 1 })
      const [hash] = yield* submitTransfers(1)
      // The service the wait uses, its watch's events noted as the wait takes them.
      // Reads kept on HTTP, where the proxy counts them.
      const service = yield* Effect.provide(
        StarknetRpc.StarknetRpc,
        yield* Layer.build(StarknetRpc.layerHttp({ url: http.url, wsUrl: ws.url, readsOverWebSocket: false }))
      )
      const taken: Array<string> = []
      let asked = 0
      const noting = StarknetRpc.StarknetRpc.of({
        ...service,
        watchTransaction: (h) =>
          Effect.map(service.watchTransaction!(h), (watch) => ({
            ...watch,
            next: Effect.suspend(() => {
              asked++
              return Effect.tap(watch.next, (e) => {
                taken.push(e._tag === "Status" ? e.status.finalityStatus : e._tag)
              })
            })
          }))
      })
      const until = (label: string, test: () => boolean) =>
        Effect.gen(function*() {
          for (let i = 0; !test(); i++) {
            if (i === 1000) return yield* Effect.dieMessage(`timed out after 10 s waiting for ${label}; taken: ${taken.join(", ")}`)
            yield* Effect.sleep("10 millis")
          }
        })
      const wait = yield* Effect.fork(Transactions.wait(hash!, { timeout: "30 seconds" }).pipe(Effect.provideService(StarknetRpc.StarknetRpc, noting)))

      yield* until("the wait to hear RECEIVED", () => taken.includes("RECEIVED"))
      yield* devnet.mineBlock
      yield* until("the wait to hear PRE_CONFIRMED", () => taken.includes("PRE_CONFIRMED"))
      // The node's view now lags: the block that includes the transaction is not in it, the status heard goes back.
      yield* devnet.setFaults({ readLagBlocks: 1 })
      yield* devnet.mineBlock
      yield* until("the status to go back to RECEIVED", () => taken.lastIndexOf("RECEIVED") > taken.indexOf("PRE_CONFIRMED"))
      // Handled (the status read over HTTP, lagging too) once the wait asks for the next event.
      yield* until("the wait to handle the status that went back", () => asked === taken.length + 1)
      expect(http.count(STATUS)).toBe(1)
      // The node catches up: the status heard is final, and the wait ends with the receipt.
      yield* devnet.clearFaults
      const receipt = yield* Fiber.join(wait)
      expect(receipt.transactionHash).toBe(hash)
      expect(receipt.executionStatus).toBe("SUCCEEDED")
      expect(receipt.finalityStatus).toBe("ACCEPTED_ON_L2")
      expect(taken.filter((t) => t !== "Up")).toEqual(["RECEIVED", "PRE_CONFIRMED", "RECEIVED", "ACCEPTED_ON_L2"])
      // One read for the status that went back; none for the others.
      expect(http.count(STATUS)).toBe(1)
    })))
})

describe("StarknetRpc.latestBlock with a WebSocket URL (the preflight's view of the head)", () => {
  /** Reads the latest block until it is `n` (bounded: 10 s), returning it. */
  const untilBlock = (rpc: StarknetRpc.StarknetRpc["Type"], n: number) =>
    Effect.gen(function*() {
      for (let i = 0;; i++) {
        const block = yield* rpc.latestBlock
        if (block.blockNumber === n) return block
        if (i === 200) return yield* Effect.dieMessage(`timed out after 10 s waiting for latestBlock to be block ${n} (last: ${block.blockNumber})`)
        yield* Effect.sleep("50 millis")
      }
    })

  it.live("follows the heads subscription with no HTTP read; read over HTTP again once the socket is cut", () =>
    live("1 hour", Effect.gen(function*() {
      const { devnet, http, ws } = yield* setup("1 hour")
      const rpc = yield* Effect.provide(StarknetRpc.StarknetRpc, yield* Layer.build(StarknetRpc.layerHttp({ url: http.url, wsUrl: ws.url })))
      // The first read subscribes; it is answered over HTTP (no header heard yet).
      const first = yield* rpc.latestBlock
      expect(first.blockNumber).toBe(yield* devnet.blockNumber)
      yield* connected(ws)
      const reads = http.count(BLOCK)
      expect(reads).toBeGreaterThanOrEqual(1)

      // Blocks closed by hand: each one's header is the latest block, with no HTTP read.
      for (let i = 0; i < 3; i++) {
        const mined = yield* devnet.mineBlock
        const block = yield* untilBlock(rpc, mined.blockNumber)
        expect(block).toEqual({ blockNumber: mined.blockNumber, timestamp: mined.timestamp })
      }
      expect(http.count(BLOCK)).toBe(reads)

      // The connection cut and refused: read over HTTP, and right.
      ws.refuse(true)
      ws.kill()
      const mined = yield* devnet.mineBlock
      const block = yield* untilBlock(rpc, mined.blockNumber)
      expect(block.timestamp).toBe(mined.timestamp)
      expect(http.count(BLOCK)).toBeGreaterThan(reads)
    })))

  it.live("without a WebSocket URL every read is an HTTP read (the count above is not vacuous)", () =>
    live("1 hour", Effect.gen(function*() {
      const { http } = yield* setup("1 hour")
      const rpc = yield* Effect.provide(StarknetRpc.StarknetRpc, yield* Layer.build(StarknetRpc.layerHttp({ url: http.url })))
      for (let i = 0; i < 3; i++) yield* rpc.latestBlock
      expect(http.count(BLOCK)).toBe(3)
    })))
})

describe("reads over the WebSocket connection", () => {
  const build = (options: StarknetRpc.HttpOptions) =>
    Effect.flatMap(Layer.build(StarknetRpc.layerHttp(options)), (context) => Effect.provide(StarknetRpc.StarknetRpc, context))
  /** Reads of every kind the library makes, answers and refusals alike, each as the library gives it back. */
  const reads = (rpc: StarknetRpc.StarknetRpc["Type"], account: Schemas.Address) =>
    Effect.gen(function*() {
      const nonce = yield* rpc.getNonce(account)
      const balance = yield* rpc.call({ contractAddress: USDC as Schemas.Address, entrypoint: "balance_of", calldata: [account] })
      const missing = yield* Effect.flip(rpc.getTransactionStatus("0x123" as Schemas.TxHash))
      // A transfer of more than the wallet holds: the account runs it and its call fails, with the token's reason.
      const simulated = yield* rpc.simulateCalls({
        account,
        calls: [{ contractAddress: USDC as Schemas.Address, entrypoint: "transfer", calldata: ["0xb0b", "0xffffffffff", "0x0"] as Array<Schemas.Felt> }],
        nonce
      })
      const block = yield* rpc.getBlockWithTxs("pre_confirmed")
      return { nonce, balance, missing: missing._tag, simulated, block: block.blockNumber }
    })

  it.live("with the connection open, no read is an HTTP request, and each answer (and refusal) is the one HTTP gives", () =>
    live("1 hour", Effect.gen(function*() {
      const { devnet, http, ws } = yield* setup("1 hour")
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000n } })
      const overWs = yield* build({ url: http.url, wsUrl: ws.url })
      yield* overWs.latestBlock
      yield* connected(ws)
      const before = http.total()
      const heard = yield* reads(overWs, wallet.publicKey)
      expect(http.total()).toBe(before)
      expect(heard.missing).toBe("TransactionNotFound")
      expect(heard.simulated._tag === "Executed" && heard.simulated.calls[0]?.reverted).toBe(true)
      // The same reads over HTTP (the count above is not vacuous), with the same answers.
      const overHttp = yield* build({ url: http.url })
      expect(yield* reads(overHttp, wallet.publicKey)).toEqual(heard)
      expect(http.total()).toBeGreaterThanOrEqual(before + 5)
    })))

  it.live("a read the connection leaves unanswered is sent over HTTP after the timeout; with the connection gone, at once", () =>
    live("1 hour", Effect.gen(function*() {
      const { devnet, http, served, ws } = yield* setup("1 hour")
      const wallet = yield* devnet.createWallet({ encryptKey: PIN })
      // No heartbeat to notice the silence: only the read's own timeout sends it the other way.
      const rpc = yield* build({ url: http.url, wsUrl: ws.url, heartbeat: "1 hour", timeout: "300 millis" })
      yield* rpc.latestBlock
      yield* connected(ws)
      const expected = yield* Effect.flatMap(build({ url: served.url }), (direct) => direct.getNonce(wallet.publicKey))
      ws.freeze()
      const start = performance.now()
      expect(BigInt(yield* rpc.getNonce(wallet.publicKey))).toBe(BigInt(expected))
      expect(performance.now() - start).toBeGreaterThanOrEqual(290)
      expect(http.count("starknet_getNonce")).toBe(1)
      // Gone: the read is not offered to the connection at all.
      ws.refuse(true)
      ws.kill()
      yield* Effect.sleep("100 millis")
      expect(BigInt(yield* rpc.getNonce(wallet.publicKey))).toBe(BigInt(expected))
      expect(http.count("starknet_getNonce")).toBe(2)
    })))
})

describe("the Promise client's wsUrl", () => {
  it.live("createClient({ rpcUrl, paymasterUrl, wsUrl }): the guide's register and wait hear the status over one connection, with no status poll", () =>
    live("300 millis", Effect.gen(function*() {
      const { devnet, http, served, ws } = yield* setup("300 millis")
      const wallet = yield* devnet.createWallet({ encryptKey: PIN })
      const sdk = createClient({ rpcUrl: http.url, paymasterUrl: served.url, wsUrl: ws.url })
      yield* Effect.promise(async () => {
        const session = sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 600 })
        const tx = await sdk.sessions.addSessionKeyToContract({
          encryptKey: PIN,
          wallet,
          sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 2, allowedEntrypoints: [] }
        })
        expect((await sdk.waitForTransaction({ txHash: tx })).executionStatus).toBe("SUCCEEDED")
        await sdk.close()
      })
      expect(http.count(STATUS)).toBe(0)
      expect(ws.accepted()).toBe(1)
    })))

  it.live("the guide's execute with a wsUrl: its reads (session, nonce, simulation) go over the connection; its HTTP requests are the paymaster's two", () =>
    live("300 millis", Effect.gen(function*() {
      const { devnet, http, ws } = yield* setup("300 millis")
      const wallet = { ...(yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })), walletType: "CHIPI" as const }
      // The node and the paymaster behind one counting proxy: every HTTP request is counted, whoever it is for.
      const sdk = createClient({ rpcUrl: http.url, paymasterUrl: http.url, wsUrl: ws.url })
      const session = sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 600 })
      yield* Effect.promise(async () => {
        const tx = await sdk.sessions.addSessionKeyToContract({
          encryptKey: PIN,
          wallet,
          sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 10, allowedEntrypoints: [] }
        })
        expect((await sdk.waitForTransaction({ txHash: tx })).executionStatus).toBe("SUCCEEDED")
      })
      yield* connected(ws)
      const before = http.total()
      const recipients = ["0xe1", "0xe2", "0xe3"]
      for (const to of recipients) {
        yield* Effect.promise(() =>
          sdk.executeTransactionWithSession({
            params: { encryptKey: PIN, wallet, session, calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: [to, "0x7", "0x0"] }] }
          })
        )
      }
      expect(http.total() - before).toBe(2 * recipients.length)
      expect(http.count("paymaster_executeTransaction")).toBe(1 + recipients.length)
      yield* Effect.promise(() => sdk.close())
      yield* devnet.mineBlock
      for (const to of recipients) expect(yield* devnet.balanceOf(USDC, to)).toBe(7n)
    })))

  it("a wsUrl that is not a ws:// or wss:// URL, misspelt, or beside the embedded devnet: every call rejects with InvalidInput naming it", async () => {
    const cases: ReadonlyArray<readonly [unknown, string, RegExp]> = [
      [{ rpcUrl: "http://127.0.0.1:1", paymasterUrl: "http://127.0.0.1:1", wsUrl: "http://127.0.0.1:1" }, "wsUrl", /ws:\/\/ or wss:\/\//],
      [{ apiPublicKey: "pk_dev_x", apiSecretKey: "sk_dev_x", rpcUrl: "http://127.0.0.1:1", wsUrl: 5 }, "wsUrl", /ws:\/\/ or wss:\/\//],
      [{ rpcUrl: "http://127.0.0.1:1", paymasterUrl: "http://127.0.0.1:1", wsURL: "ws://127.0.0.1:1" }, "wsURL", /did you mean wsUrl/],
      [{ wsUrl: "ws://127.0.0.1:1" }, "wsUrl", /not an option of a \{ devnet \} client/]
    ]
    for (const [options, path, rule] of cases) {
      const sdk = createClient(options as any)
      const rejected = await sdk.getTransactionStatus("0x1").then(() => undefined, (e: unknown) => e)
      expect(rejected).toBeInstanceOf(InvalidInput)
      expect((rejected as InvalidInput).path).toBe(path)
      expect((rejected as InvalidInput).message).toMatch(rule)
      await sdk.close()
    }
  })
})
