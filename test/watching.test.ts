/**
 * Waits through WebSocket subscriptions (RPC 0.9 `starknet_subscribeTransactionStatus`, starknet-specs v0.9.0
 * `api/starknet_ws_api.json`), against the served devnet: no status polls while the connection is up; polls while
 * it is down; reconnection; reorganisation notices. HTTP requests are counted by a proxy, by JSON-RPC method.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Duration, Effect, Metric } from "effect"
import { Devnet, Metrics, StarknetRpc, Transactions } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import * as keystore from "../src/internal/crypto/keystore.js"
import { PIN, signOutside, transfer } from "./helpers/chain.js"
import { countingProxy, tcpProxy } from "./helpers/ws.js"

const STATUS = "starknet_getTransactionStatus"

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
      const [[receipt]] = yield* Effect.all([waitAll([hash!], { url: http.url, wsUrl: ws.url }), reorg], { concurrency: "unbounded" })
      expect(receipt!.transactionHash).toBe(hash)
      // The notice made the wait read the status once itself.
      expect(http.count(STATUS)).toBe(1)
    })))
})

