/**
 * The served devnet's WebSocket subscriptions. Shapes as starknet-specs v0.9.0 `api/starknet_ws_api.json` defines
 * them (as `@starknet-io/starknet-types-09` 0.9.2 types them, `api/methods.d.ts` `WebSocketMethods` and
 * `api/components.d.ts`): `SUBSCRIPTION_ID` a string, `NEW_TXN_STATUS` `{ transaction_hash, status }`,
 * `REORG_DATA`, errors 66 and 68; and starknet.js 10.8's `WebSocketChannel` as the client, against the served devnet
 * in this process and against the command line in a process of its own.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { Devnet, Schemas } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import * as keystore from "../../src/internal/crypto/keystore.js"
import { PIN, signOutside, transfer, USDC } from "../helpers/chain.js"
import { connect, WebSocketClass } from "../helpers/ws.js"
import { createClient } from "starknet-session-keys/promise"

const BOB = "0xb0b"

// Node 20 has no global WebSocket, and starknet.js compares `readyState` with the class it found when it loaded
// (a placeholder without `OPEN` when there is none): the global is set before starknet.js is loaded.
;(globalThis as any).WebSocket ??= WebSocketClass
const { WebSocketChannel } = await import("starknet")

const served = (options: DevnetServer.ServeOptions = {}) =>
  Effect.gen(function*() {
    const server = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0, ...options })
    return { ...server, devnet: yield* Devnet.Devnet }
  })

const run = <A, E>(blockTime: import("effect").Duration.DurationInput, effect: Effect.Effect<A, E, Devnet.Devnet | import("effect").Scope.Scope | any>) =>
  effect.pipe(Effect.scoped, Effect.provide(Devnet.layer({ blockTime }))) as Effect.Effect<A, E>

/** A funded wallet's signed transfer to BOB, submitted as the relayer: a transaction that succeeds. */
const submitTransfer = (amount: bigint) =>
  Effect.gen(function*() {
    const devnet = yield* Devnet.Devnet
    const w = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000n } })
    const { calldata } = yield* signOutside(w.publicKey, [transfer(BOB, amount)], { key: keystore.decryptLegacy(w.encryptedPrivateKey, PIN) })
    return { wallet: w, txHash: yield* devnet.submitOutside(w.publicKey, calldata) }
  })

/** Resolves when `n` items arrived (or fails naming what it waited for). */
const collect = <T>(label: string, n: number, onItem: (push: (t: T) => void) => void, timeoutMillis = 15_000) =>
  Effect.promise(() =>
    new Promise<Array<T>>((resolve, reject) => {
      const items: Array<T> = []
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMillis} ms waiting for ${label}; got ${JSON.stringify(items)}`)), timeoutMillis)
      onItem((t) => {
        items.push(t)
        if (items.length === n) {
          clearTimeout(timer)
          resolve(items)
        }
      })
    })
  )

describe("starknet.js 10.8 WebSocketChannel against the served devnet", () => {
  it.live("subscribeTransactionStatus: the current status first, then RECEIVED → PRE_CONFIRMED → ACCEPTED_ON_L2; subscribeNewHeads: each block's header", () =>
    run("400 millis", Effect.gen(function*() {
      const { devnet, wsUrl } = yield* served()
      const channel = new WebSocketChannel({ nodeUrl: wsUrl, websocket: WebSocketClass })
      yield* Effect.addFinalizer(() => Effect.sync(() => channel.disconnect()))
      yield* Effect.promise(() => channel.waitForConnection())

      const heads = yield* Effect.promise(() => channel.subscribeNewHeads())
      expect(typeof heads.id).toBe("string")
      const headers = yield* collect<any>("three block headers", 3, (push) => heads.on(push))
      const numbers = headers.map((h) => h.block_number)
      expect(numbers[1]).toBe(numbers[0] + 1)
      expect(numbers[2]).toBe(numbers[1] + 1)
      for (const h of headers) expect(h).toMatchObject({ block_hash: expect.stringMatching(/^0x/), parent_hash: expect.stringMatching(/^0x/), timestamp: expect.any(Number) })
      expect(headers[1].parent_hash).toBe(headers[0].block_hash)
      expect(yield* Effect.promise(() => heads.unsubscribe())).toBe(true)

      // Held one block: RECEIVED first, then in the block being built, then closed.
      yield* devnet.setFaults({ holdBlocks: 1 })
      const { txHash } = yield* submitTransfer(5n)
      const sub = yield* Effect.promise(() => channel.subscribeTransactionStatus({ transactionHash: txHash }))
      const statuses = yield* collect<any>("RECEIVED, PRE_CONFIRMED and ACCEPTED_ON_L2", 3, (push) => sub.on(push))
      expect(statuses.map((s) => s.transaction_hash)).toEqual([txHash, txHash, txHash])
      expect(statuses.map((s) => s.status)).toEqual([
        { finality_status: "RECEIVED" },
        { finality_status: "PRE_CONFIRMED", execution_status: "SUCCEEDED" },
        { finality_status: "ACCEPTED_ON_L2", execution_status: "SUCCEEDED" }
      ])
      expect(yield* Effect.promise(() => sub.unsubscribe())).toBe(true)
    })))
})

describe("the subscription methods on the wire", () => {
  it.live("events with filters (address, keys, from a past block, PRE_CONFIRMED), unsubscribe and error 66", () =>
    run("300 millis", Effect.gen(function*() {
      const { devnet, wsUrl } = yield* served()
      const { txHash, wallet } = yield* submitTransfer(7n)
      yield* devnet.mineBlock
      const included = (yield* devnet.transactions).find((t) => t.hash === txHash)
      expect(included?.status.finalityStatus).toBe("ACCEPTED_ON_L2")
      const c = yield* connect(wsUrl)
      const transferKey = Schemas.selectorOf("Transfer")
      // From block 0, USDC's transfers only (positional params: from_address, keys, block_id).
      c.send({ jsonrpc: "2.0", id: 1, method: "starknet_subscribeEvents", params: [USDC, [[transferKey]], { block_number: 0 }] })
      const subscribed = yield* c.next("the subscription id", (m) => m.id === 1)
      expect(subscribed.result).toEqual(expect.any(String))
      const event = yield* c.next("the USDC transfer event", (m) => m.method === "starknet_subscriptionEvents" && m.params.result.transaction_hash === txHash)
      expect(event.params.subscription_id).toBe(subscribed.result)
      expect(event.params.result).toMatchObject({
        from_address: Schemas.decodeSync(Schemas.Address)(USDC),
        keys: [transferKey, Schemas.decodeSync(Schemas.Address)(wallet.publicKey), "0xb0b"],
        finality_status: "ACCEPTED_ON_L2",
        block_hash: expect.stringMatching(/^0x/)
      })
      // The fee transfer (STRK) is filtered out by the address.
      expect(c.received().filter((m) => m.method === "starknet_subscriptionEvents" && m.params.result.from_address !== event.params.result.from_address)).toEqual([])

      // PRE_CONFIRMED: a transfer is announced while its block is being built, then again once it closes.
      c.send({ jsonrpc: "2.0", id: 2, method: "starknet_subscribeEvents", params: { from_address: USDC, finality_status: "PRE_CONFIRMED" } })
      const pre = (yield* c.next("the second subscription", (m) => m.id === 2)).result
      const second = yield* submitTransfer(9n)
      const early = yield* c.next("the pre-confirmed event", (m) => m.params?.subscription_id === pre && m.params.result.transaction_hash === second.txHash)
      expect(early.params.result.finality_status).toBe("PRE_CONFIRMED")
      const late = yield* c.next("the event once its block closed", (m) => m.params?.subscription_id === pre && m.params.result.transaction_hash === second.txHash)
      expect(late.params.result.finality_status).toBe("ACCEPTED_ON_L2")

      c.send({ jsonrpc: "2.0", id: 3, method: "starknet_unsubscribe", params: { subscription_id: pre } })
      expect((yield* c.next("the unsubscribe answer", (m) => m.id === 3)).result).toBe(true)
      c.send({ jsonrpc: "2.0", id: 4, method: "starknet_unsubscribe", params: { subscription_id: pre } })
      expect((yield* c.next("the second unsubscribe answer", (m) => m.id === 4)).error).toMatchObject({ code: 66 })
      // More than 1024 blocks back: 68.
      yield* devnet.advanceTime("400 seconds")
      c.send({ jsonrpc: "2.0", id: 5, method: "starknet_subscribeNewHeads", params: { block_id: { block_number: 0 } } })
      expect((yield* c.next("the far-back answer", (m) => m.id === 5)).error).toMatchObject({ code: 68 })
      // Bad params: -32602.
      c.send({ jsonrpc: "2.0", id: 6, method: "starknet_subscribeTransactionStatus", params: { transaction_hash: "nope" } })
      expect((yield* c.next("the bad-params answer", (m) => m.id === 6)).error).toMatchObject({ code: -32602 })
      // Every other method is answered over the socket too.
      c.send({ jsonrpc: "2.0", id: 7, method: "starknet_chainId" })
      expect((yield* c.next("the chain id", (m) => m.id === 7)).result).toBe(devnet.chainId)
      c.close()
    })))

  it.live("a change the chain makes (a transaction accepted, a block closed) is sent at once, not at the next periodic look", () =>
    // Blocks close by hand only, and the periodic look is a minute apart: whatever arrives within seconds was sent
    // because the chain changed.
    run("1 hour", Effect.gen(function*() {
      const { devnet, wsUrl } = yield* served({ subscriptions: { tickMillis: 60_000 } })
      yield* devnet.setFaults({ holdBlocks: 1 })
      const { txHash } = yield* submitTransfer(3n)
      const c = yield* connect(wsUrl)
      c.send({ jsonrpc: "2.0", id: 1, method: "starknet_subscribeTransactionStatus", params: { transaction_hash: txHash } })
      const id = (yield* c.next("the subscription id", (m) => m.id === 1)).result
      const heard = (status: string) =>
        c.next(`${status} within 3 s`, (m) => m.params?.subscription_id === id && m.params.result.status.finality_status === status, 3_000)
      yield* heard("RECEIVED")
      yield* devnet.mineBlock
      yield* heard("PRE_CONFIRMED")
      yield* devnet.mineBlock
      yield* heard("ACCEPTED_ON_L2")
      c.close()
    })))

  it.live("limits: connections (503), subscriptions per connection (-32005), message size (closed with 1009); keys as over HTTP", () =>
    run("1 second", Effect.gen(function*() {
      const { wsUrl } = yield* served({
        adminKey: "admin-secret",
        subscriptions: { maxConnections: 1, maxSubscriptionsPerConnection: 2, maxMessageBytes: 1000 }
      })
      const c = yield* connect(wsUrl)
      const refused = yield* Effect.exit(connect(wsUrl))
      expect(Exit.isFailure(refused) && String(Cause.squash(refused.cause))).toContain("HTTP 503")
      for (const id of [1, 2, 3]) c.send({ jsonrpc: "2.0", id, method: "starknet_subscribeNewHeads" })
      expect((yield* c.next("the first", (m) => m.id === 1)).result).toEqual(expect.any(String))
      expect((yield* c.next("the second", (m) => m.id === 2)).result).toEqual(expect.any(String))
      expect((yield* c.next("the third", (m) => m.id === 3)).error).toMatchObject({ code: -32005 })
      // devnet_* want the admin key, from the upgrade request's headers.
      c.send({ jsonrpc: "2.0", id: 4, method: "devnet_mint", params: { token: "USDC", to: "0xabc", amount: "0x5" } })
      expect((yield* c.next("the refused mint", (m) => m.id === 4)).error).toMatchObject({ code: -32001 })
      c.sendRaw(JSON.stringify({ jsonrpc: "2.0", id: 5, method: "starknet_chainId", params: { pad: "x".repeat(1000) } }))
      expect(yield* Effect.promise(() => c.closed)).toBe(1009)
      // The connection is free again; this one holds the key.
      const admin = yield* connect(wsUrl, { "x-devnet-admin-key": "admin-secret" })
      admin.send({ jsonrpc: "2.0", id: 1, method: "devnet_mint", params: { token: "USDC", to: "0xabc", amount: "0x5" } })
      expect((yield* admin.next("the mint", (m) => m.id === 1)).result).toBeDefined()
      admin.close()
    })))

  it.live("the reorgBlocks fault: every subscription hears starknet_subscriptionReorg (REORG_DATA), then what it watches again", () =>
    run("200 millis", Effect.gen(function*() {
      const { devnet, wsUrl } = yield* served()
      const { txHash } = yield* submitTransfer(3n)
      yield* devnet.mineBlock
      const c = yield* connect(wsUrl)
      c.send({ jsonrpc: "2.0", id: 1, method: "starknet_subscribeTransactionStatus", params: { transaction_hash: txHash } })
      const id = (yield* c.next("the subscription", (m) => m.id === 1)).result
      const first = yield* c.next("the current status", (m) => m.params?.subscription_id === id)
      expect(first.params.result).toEqual({ transaction_hash: txHash, status: { finality_status: "ACCEPTED_ON_L2", execution_status: "SUCCEEDED" } })
      // Two blocks after genesis at least, whatever the clock closed meanwhile: the notice spans the last two.
      yield* devnet.mineBlock
      yield* devnet.setFaults({ reorgBlocks: 2 })
      const reorg = yield* c.next("the reorg notice", (m) => m.method === "starknet_subscriptionReorg")
      expect(reorg.params.subscription_id).toBe(id)
      const data = reorg.params.result
      expect(data).toEqual({
        starting_block_hash: expect.stringMatching(/^0x/),
        starting_block_number: expect.any(Number),
        ending_block_hash: expect.stringMatching(/^0x/),
        ending_block_number: expect.any(Number)
      })
      expect(data.ending_block_number - data.starting_block_number).toBe(1)
      const again = yield* c.next("the status sent again", (m) => m.method === "starknet_subscriptionTransactionStatus" && m.params.subscription_id === id)
      expect(again.params.result.status.finality_status).toBe("ACCEPTED_ON_L2")
      // Once: no second notice.
      yield* Effect.sleep("300 millis")
      expect(c.received().filter((m) => m.method === "starknet_subscriptionReorg")).toHaveLength(1)
      c.close()
    })))
})

describe("starknet.js 10.8 WebSocketChannel against the command line (`npx starknet-session-keys-devnet`)", () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

  /** The command line from source (as `npx starknet-session-keys-devnet` runs it), on a free port, until the scope closes. */
  const started = (args: ReadonlyArray<string>) =>
    Effect.acquireRelease(
      Effect.promise(() =>
        new Promise<{ readonly child: ChildProcess; readonly url: string; readonly wsUrl: string }>((resolve, reject) => {
          const child = spawn(path.join(root, "node_modules/.bin/tsx"), [path.join(root, "src/devnet/cli.ts"), "--port", "0", ...args], {
            cwd: root,
            stdio: ["ignore", "pipe", "pipe"]
          })
          let out = ""
          const timer = setTimeout(() => reject(new Error(`timed out after 30 s waiting for the command line to print its URLs; printed: ${out}`)), 30_000)
          child.stdout!.on("data", (chunk: Buffer) => {
            out += chunk.toString()
            const url = /listening on (http:\/\/\S+)/.exec(out)?.[1]
            const wsUrl = /WebSocket (ws:\/\/\S+): /.exec(out)?.[1]
            if (url !== undefined && wsUrl !== undefined) {
              clearTimeout(timer)
              resolve({ child, url, wsUrl })
            }
          })
          child.on("exit", (code) => reject(new Error(`the command line exited (${code}) before printing its URLs: ${out}`)))
        })
      ),
      ({ child }) => Effect.sync(() => child.kill("SIGTERM"))
    )

  it.live("subscribeNewHeads hears each block's header; subscribeTransactionStatus the current status, then each change to ACCEPTED_ON_L2", () =>
    Effect.gen(function*() {
      const { url, wsUrl } = yield* started(["--block-time", "300"])
      const rpc = (method: string, params: unknown) =>
        Effect.promise(async () => {
          const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) })
          return ((await response.json()) as { result: any }).result
        })
      const channel = new WebSocketChannel({ nodeUrl: wsUrl, websocket: WebSocketClass })
      yield* Effect.addFinalizer(() => Effect.sync(() => channel.disconnect()))
      yield* Effect.promise(() => channel.waitForConnection())

      const heads = yield* Effect.promise(() => channel.subscribeNewHeads())
      const headers = yield* collect<any>("three block headers", 3, (push) => heads.on(push))
      expect(headers.map((h) => h.block_number - headers[0].block_number)).toEqual([0, 1, 2])
      expect(headers[1].parent_hash).toBe(headers[0].block_hash)
      expect(headers[2].parent_hash).toBe(headers[1].block_hash)
      expect(yield* Effect.promise(() => heads.unsubscribe())).toBe(true)

      // A session registered through the served paymaster (the Promise client), held one block.
      const wallet = yield* rpc("devnet_createWallet", { encryptKey: PIN })
      yield* rpc("devnet_setFaults", { holdBlocks: 1 })
      const sdk = createClient({ rpcUrl: url, paymasterUrl: url })
      yield* Effect.addFinalizer(() => Effect.promise(() => sdk.close()))
      const session = sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 600 })
      const txHash = yield* Effect.promise(() =>
        sdk.sessions.addSessionKeyToContract({
          encryptKey: PIN,
          wallet,
          sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 1, allowedEntrypoints: [] }
        })
      )
      const sub = yield* Effect.promise(() => channel.subscribeTransactionStatus({ transactionHash: txHash }))
      const statuses: Array<any> = []
      yield* collect<any>("statuses up to ACCEPTED_ON_L2", 1, (push) =>
        sub.on((s: any) => {
          statuses.push(s)
          if (s.status.finality_status === "ACCEPTED_ON_L2") push(s)
        }))
      expect(statuses.every((s) => s.transaction_hash === txHash)).toBe(true)
      // Held one block: heard RECEIVED or already in the block being built, never going back, and final once.
      const order = ["RECEIVED", "PRE_CONFIRMED", "ACCEPTED_ON_L2"]
      const ranks = statuses.map((s) => order.indexOf(s.status.finality_status))
      expect(ranks[0]).toBeLessThanOrEqual(1)
      expect(ranks).toEqual([...ranks].sort((a, b) => a - b))
      expect(new Set(ranks).size).toBe(ranks.length)
      expect(statuses.at(-1).status).toEqual({ finality_status: "ACCEPTED_ON_L2", execution_status: "SUCCEEDED" })
      expect(yield* Effect.promise(() => sub.unsubscribe())).toBe(true)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
