import { describe, expect, it } from "@effect/vitest"
import { FetchHttpClient, HttpClient, HttpClientResponse } from "@effect/platform"
import { Effect, Layer, TestClock } from "effect"
import { hash } from "starknet"
import { Devnet, Errors, OutsideExecution, Schemas, StarknetRpc } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import * as keystore from "../../src/internal/crypto/keystore.js"
import * as stark from "../../src/internal/crypto/stark.js"
import { layer, nextBlock, register, sessionKey, signOutside, start, submit, transfer, viewCall, wallet } from "../helpers/chain.js"

const BOB = "0xb0b"

/** starknet.js's own INVOKE v3 hash of a transaction with zero bounds, tip and L1 modes: the oracle for ours. */
const starknetJsHash = (chainId: string, sender: string, nonce: string, calldata: ReadonlyArray<string>) =>
  hash.calculateInvokeTransactionHash({
    senderAddress: sender,
    version: "0x3",
    compiledCalldata: [...calldata],
    chainId: chainId as never,
    nonce,
    accountDeploymentData: [],
    nonceDataAvailabilityMode: 0,
    feeDataAvailabilityMode: 0,
    resourceBounds: {
      l1_gas: { max_amount: 0n, max_price_per_unit: 0n },
      l2_gas: { max_amount: 0n, max_price_per_unit: 0n },
      l1_data_gas: { max_amount: 0n, max_price_per_unit: 0n }
    },
    tip: 0,
    paymasterData: []
  })

const big = (values: ReadonlyArray<string>) => values.map((v) => BigInt(v))

describe("blocks carry their transactions", () => {
  it.effect("a sponsored execute is the relayer's INVOKE: its multicall of one execute_from_outside_v2 with the signed calldata", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const rpc = yield* StarknetRpc.StarknetRpc
      const w = yield* wallet
      const owner = w.owner
      const { calldata } = yield* signOutside(w.address, [transfer(BOB, 7n)], owner, { nonce: 4242n })
      const result = yield* submit(w.address, [transfer(BOB, 7n)], owner, { nonce: 4243n })
      expect(result.ok).toBe(true)
      yield* nextBlock
      const receipt = yield* rpc.getTransactionReceipt(result.txHash!)
      const block = yield* rpc.getBlockWithTxs(receipt.blockNumber!)
      expect(block.blockNumber).toBe(receipt.blockNumber)
      expect(block.transactions).toHaveLength(1)
      const tx = block.transactions[0]!
      expect(tx.transactionHash).toBe(result.txHash)
      expect(tx.type).toBe("INVOKE")
      expect(BigInt(tx.senderAddress!)).toBe(BigInt(devnet.relayer))
      // [n_calls, to, selector, calldata_len, calldata...]: one call to the wallet's execute_from_outside_v2.
      const cd = big(tx.calldata)
      expect(cd.slice(0, 3)).toEqual([1n, BigInt(w.address), BigInt(Schemas.selectorOf("execute_from_outside_v2"))])
      expect(cd[3]).toBe(BigInt(cd.length - 4))
      const inner = tx.calldata.slice(4)
      const parsed = OutsideExecution.parseExecuteFromOutsideCalldata(inner)!
      expect(BigInt(parsed.outsideExecution.nonce)).toBe(4243n)
      expect(parsed.outsideExecution.calls.map((c) => big(c.calldata))).toEqual([[BigInt(BOB), 7n, 0n]])
      expect(parsed.signature).toHaveLength(2)
      // The same layout as the calldata the wallet signed for another nonce: only the nonce and signature differ.
      expect(inner).toHaveLength(calldata.length)
      // The hash is the INVOKE v3 hash starknet.js computes for that transaction.
      expect(BigInt(tx.transactionHash)).toBe(BigInt(starknetJsHash(devnet.chainId, tx.senderAddress!, "0x0", tx.calldata)))
    }).pipe(Effect.provide(layer())))

  it.effect("the relayer's nonce advances: two executes are two INVOKEs with distinct hashes, in submission order", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const rpc = yield* StarknetRpc.StarknetRpc
      const w = yield* wallet
      const a = yield* submit(w.address, [transfer(BOB, 1n)], w.owner)
      const b = yield* submit(w.address, [transfer(BOB, 2n)], w.owner)
      yield* nextBlock
      const n = (yield* rpc.getTransactionReceipt(a.txHash!)).blockNumber!
      const block = yield* rpc.getBlockWithTxs(n)
      expect(block.transactions.map((t) => t.transactionHash)).toEqual([a.txHash, b.txHash])
      const [first, second] = block.transactions
      expect(BigInt(second!.transactionHash)).toBe(BigInt(starknetJsHash(devnet.chainId, devnet.relayer, "0x1", second!.calldata)))
      expect(first!.transactionHash).not.toBe(second!.transactionHash)
    }).pipe(Effect.provide(layer())))

  it.effect("the account's own invoke is sent by the account, its calldata the serialized calls", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const rpc = yield* StarknetRpc.StarknetRpc
      const w = yield* wallet
      const s = sessionKey(31n)
      const validUntil = BigInt(yield* devnet.blockTimestamp) + 3600n
      yield* register(w.address, w.owner, s.publicKey, validUntil, 5n, ["transfer"])
      const calls = [transfer(BOB, 3n)]
      const h = BigInt(OutsideExecution.directSessionHash(w.address, devnet.chainId, 0n, validUntil, calls))
      const { r, s: sig } = stark.sign(h, s.key)
      const txHash = yield* devnet.invoke({
        account: w.address,
        calls,
        signature: [s.publicKey, r, sig, validUntil].map((v) => "0x" + BigInt(v).toString(16)),
        nonce: 0n
      })
      yield* nextBlock
      const block = yield* rpc.getBlockWithTxs((yield* rpc.getTransactionReceipt(txHash)).blockNumber!)
      const tx = block.transactions.find((t) => t.transactionHash === txHash)!
      expect(BigInt(tx.senderAddress!)).toBe(BigInt(w.address))
      expect(big(tx.calldata)).toEqual([1n, BigInt(calls[0]!.to), BigInt(calls[0]!.selector), 3n, BigInt(BOB), 3n, 0n])
      expect(BigInt(txHash)).toBe(BigInt(starknetJsHash(devnet.chainId, w.address, "0x0", tx.calldata)))
    }).pipe(Effect.provide(layer())))

  it.effect("hashes are stable and chained by parents, across the empty blocks a catch-up skips", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const w = yield* wallet
      yield* submit(w.address, [transfer(BOB, 1n)], w.owner)
      yield* nextBlock
      // An hour at one block a second: thousands of empty blocks closed in one step.
      yield* TestClock.adjust("1 hour")
      yield* submit(w.address, [transfer(BOB, 1n)], w.owner)
      yield* nextBlock
      const latest = yield* devnet.blockNumber
      expect(latest).toBeGreaterThan(3600)
      const blocks = yield* Effect.forEach([0, 1, 2, 3, 1800, 3600, latest - 1, latest], (n) => devnet.block({ blockNumber: n }))
      const again = yield* Effect.forEach([0, 1, 2, 3, 1800, 3600, latest - 1, latest], (n) => devnet.block({ blockNumber: n }))
      expect(again).toEqual(blocks)
      expect(new Set(blocks.map((b) => b.blockHash)).size).toBe(blocks.length)
      for (const n of [1, 2, 3, 1800, 3600, latest - 1, latest]) {
        const [child, parent] = yield* Effect.all([devnet.block({ blockNumber: n }), devnet.block({ blockNumber: n - 1 })])
        expect(child.parentHash).toBe(parent.blockHash)
        expect(child.timestamp).toBeGreaterThanOrEqual(parent.timestamp)
        // And the parent is found by its hash.
        expect((yield* devnet.block({ blockHash: child.parentHash })).blockNumber).toBe(n - 1)
      }
      expect((yield* devnet.block("latest")).blockNumber).toBe(latest)
    }).pipe(Effect.provide(layer())))

  it.effect("a block past the latest, or an unknown hash, is error 24", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const rpc = yield* StarknetRpc.StarknetRpc
      const latest = yield* devnet.blockNumber
      const error = yield* Effect.flip(rpc.getBlockWithTxs(latest + 1))
      expect(error).toBeInstanceOf(Errors.RpcError)
      expect(error.code).toBe(24)
      expect((yield* Effect.flip(rpc.getBlockWithTxs(latest + 1_000_000))).code).toBe(24)
      expect((yield* Effect.flip(rpc.getBlockWithTxs(-1))).code).toBe(24)
      expect((yield* Effect.flip(devnet.block({ blockHash: "0x1234" }))).code).toBe(24)
      expect((yield* rpc.getBlockWithTxs(latest)).blockNumber).toBe(latest)
    }).pipe(Effect.provide(layer())))

  it.effect("a lagging reader does not see blocks it has not caught up with", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const rpc = yield* StarknetRpc.StarknetRpc
      yield* devnet.setFaults({ readLagBlocks: 3 })
      yield* TestClock.adjust("10 seconds")
      const latest = yield* devnet.blockNumber
      const visible = (yield* rpc.latestBlock).blockNumber
      expect(visible).toBe(latest - 3)
      expect((yield* rpc.getBlockWithTxs(visible)).blockNumber).toBe(visible)
      expect((yield* Effect.flip(rpc.getBlockWithTxs(latest))).code).toBe(24)
    }).pipe(Effect.provide(layer())))
})

describe("the allow-list views of v33", () => {
  it.effect("get_session_allowed_entrypoints_len and get_session_allowed_entrypoint_at read the stored list, 0 past the end", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const w = yield* wallet
      const s = sessionKey(77n)
      const validUntil = BigInt(yield* devnet.blockTimestamp) + 3600n
      const len = () => viewCall(w.address, "get_session_allowed_entrypoints_len", [s.publicKey])
      const at = (i: bigint) => viewCall(w.address, "get_session_allowed_entrypoint_at", [s.publicKey, i])
      expect(big(yield* len())).toEqual([0n])
      expect(big(yield* at(0n))).toEqual([0n])
      yield* register(w.address, w.owner, s.publicKey, validUntil, 5n, ["transfer", "approve"])
      expect(big(yield* len())).toEqual([2n])
      expect(big(yield* at(0n))).toEqual([BigInt(Schemas.selectorOf("transfer"))])
      expect(big(yield* at(1n))).toEqual([BigInt(Schemas.selectorOf("approve"))])
      expect(big(yield* at(2n))).toEqual([0n])
      // Re-registering with a shorter list leaves no stale selector behind.
      yield* register(w.address, w.owner, s.publicKey, validUntil, 5n, ["approve"])
      expect(big(yield* len())).toEqual([1n])
      expect(big(yield* at(0n))).toEqual([BigInt(Schemas.selectorOf("approve"))])
      expect(big(yield* at(1n))).toEqual([0n])
      // The index is a u32: a larger one fails to deserialize, as Cairo's wrapper does.
      const error = yield* Effect.flip(at(2n ** 32n))
      expect(error.message).toBe("Failed to deserialize param #2")
      expect(yield* devnet.allowedEntrypoints(w.address, s.publicKey)).toEqual([Schemas.selectorOf("approve")])
    }).pipe(Effect.provide(layer())))
})

describe("getBlockWithTxs over JSON-RPC", () => {
  it.live("the HTTP layer reads the served devnet's blocks as the embedded one does, tags and errors included", () =>
    Effect.gen(function*() {
      const server = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const devnet = yield* Devnet.Devnet
      const embedded = yield* StarknetRpc.StarknetRpc
      const w = yield* devnet.createWallet({ encryptKey: "1234", fund: { USDC: 100n } })
      const owner = { key: keystore.decryptLegacy(w.encryptedPrivateKey, "1234") }
      expect((yield* submit(w.publicKey, [transfer(BOB, 1n)], owner)).ok).toBe(true)
      yield* devnet.mineBlock
      const overHttp = yield* StarknetRpc.makeHttp({ url: server.url }).pipe(Effect.provide(FetchHttpClient.layer))
      const n = yield* devnet.blockNumber
      expect((yield* embedded.getBlockWithTxs(n)).transactions).toHaveLength(1)
      expect(yield* overHttp.getBlockWithTxs(n)).toEqual(yield* embedded.getBlockWithTxs(n))
      expect((yield* Effect.flip(overHttp.getBlockWithTxs(n + 1000))).code).toBe(24)
      const rpc = (method: string, params: unknown) =>
        Effect.promise(() =>
          fetch(server.url, { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) }).then((r) => r.json() as Promise<any>)
        )
      const latest = yield* rpc("starknet_getBlockWithTxs", { block_id: "latest" })
      const byNumber = yield* rpc("starknet_getBlockWithTxs", { block_id: { block_number: latest.result.block_number } })
      const byHash = yield* rpc("starknet_getBlockWithTxs", [{ block_hash: latest.result.block_hash }])
      expect(byNumber.result).toEqual(latest.result)
      expect(byHash.result).toEqual(latest.result)
      expect((yield* rpc("starknet_getBlockWithTxHashes", { block_id: { block_number: 0 } })).result.block_number).toBe(0)
      expect((yield* rpc("starknet_getBlockWithTxs", { block_id: { block_number: 99_999_999 } })).error.code).toBe(24)
      expect((yield* rpc("starknet_getBlockWithTxs", { block_id: "earliest" })).error.code).toBe(-32602)
      expect((yield* rpc("starknet_getBlockWithTxs", { block_id: "pending" })).error.code).toBe(-32602)
      expect(latest.result.transactions[0]).toMatchObject({ type: "INVOKE", version: "0x3", sender_address: devnet.relayer, nonce: "0x0" })
    }).pipe(Effect.scoped, Effect.provide(Devnet.layer({ blockTime: "1 hour" }))))

  /**
   * A spec 0.9 `BLOCK_WITH_TXS` (`@starknet-io/starknet-types-09`, `api/components`: `BLOCK_HEADER`, `TXN_WITH_HASH`)
   * holding an INVOKE v3, an L1_HANDLER (no sender) and a DECLARE v3 (no calldata).
   */
  const fixture = {
    status: "ACCEPTED_ON_L2",
    block_hash: "0x5f1",
    parent_hash: "0x5f0",
    block_number: 812,
    new_root: "0x1",
    timestamp: 1767225600,
    sequencer_address: "0x1176a1bd84444c89232ec27754698e5d2e7e1a7f1539f12027f28b23ec9f3d8",
    l1_gas_price: { price_in_fri: "0x1", price_in_wei: "0x1" },
    l2_gas_price: { price_in_fri: "0x1", price_in_wei: "0x1" },
    l1_data_gas_price: { price_in_fri: "0x1", price_in_wei: "0x1" },
    l1_da_mode: "BLOB",
    starknet_version: "0.14.0",
    transactions: [
      {
        transaction_hash: "0xa1",
        type: "INVOKE",
        version: "0x3",
        sender_address: "0xabc",
        calldata: ["0x1", "0x2"],
        signature: [],
        nonce: "0x7",
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
      },
      { transaction_hash: "0xa2", type: "L1_HANDLER", version: "0x0", nonce: "0x3", contract_address: "0xdef", entry_point_selector: "0x9", calldata: ["0x5"] },
      {
        transaction_hash: "0xa3",
        type: "DECLARE",
        version: "0x3",
        sender_address: "0xabc",
        class_hash: "0x77",
        compiled_class_hash: "0x78",
        signature: [],
        nonce: "0x8",
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
      }
    ]
  }

  it.effect("decodes a node's block whatever its transaction types, and asks for it by number", () => {
    const asked: Array<unknown> = []
    const node = Layer.succeed(
      HttpClient.HttpClient,
      HttpClient.make((request) =>
        Effect.sync(() => {
          const body = request.body._tag === "Uint8Array" ? JSON.parse(new TextDecoder().decode(request.body.body)) : undefined
          asked.push(body)
          return HttpClientResponse.fromWeb(request, new Response(JSON.stringify({ jsonrpc: "2.0", id: body.id, result: fixture })))
        })
      )
    )
    return Effect.gen(function*() {
      const rpc = yield* StarknetRpc.makeHttp({ url: "http://127.0.0.1:1" })
      const block = yield* rpc.getBlockWithTxs(812)
      expect(asked[0]).toMatchObject({ method: "starknet_getBlockWithTxs", params: { block_id: { block_number: 812 } } })
      expect(block).toEqual({
        blockNumber: 812,
        timestamp: 1767225600,
        transactions: [
          { transactionHash: "0xa1", type: "INVOKE", senderAddress: "0xabc", calldata: ["0x1", "0x2"] },
          { transactionHash: "0xa2", type: "L1_HANDLER", calldata: ["0x5"] },
          { transactionHash: "0xa3", type: "DECLARE", senderAddress: "0xabc", calldata: [] }
        ]
      })
    }).pipe(Effect.provide(node))
  })
})
