/**
 * `pre_confirmed` reads the block being built (spec 0.9, `@starknet-io/starknet-types-09` `api/components`:
 * `PRE_CONFIRMED_BLOCK_HEADER`, which has no hash, parent, root or status): the pending transactions run in order,
 * and state read there sees what they did.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Constants, Devnet, Schemas, StarknetRpc, Transactions } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import * as keystore from "../../src/internal/crypto/keystore.js"
import * as stark from "../../src/internal/crypto/stark.js"
import { signOutside, submit, transfer } from "../helpers/chain.js"

const PIN = "1357"
const BOB = "0xb0b"
const USDC = Constants.STARKNET_CONTRACTS.USDC.contractAddress
const hex = (v: bigint) => "0x" + v.toString(16)

const withDevnet = <A, E>(effect: Effect.Effect<A, E, any>) =>
  effect.pipe(Effect.scoped, Effect.provide(Devnet.layer({ blockTime: "1 hour" }))) as Effect.Effect<A, E>

describe("pre_confirmed is the block being built", () => {
  it.live("calls, nonces and blocks at pre_confirmed see the pending transactions; latest does not", () =>
    withDevnet(Effect.gen(function*() {
      const { url } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const devnet = yield* Devnet.Devnet
      const rpc = (method: string, params: unknown) =>
        Effect.promise(() =>
          fetch(url, { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) }).then((r) => r.json() as Promise<any>)
        )
      const w = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000n } })
      const owner = { key: keystore.decryptLegacy(w.encryptedPrivateKey, PIN) }
      const closed = (yield* devnet.mineBlock).blockNumber
      const sponsored = yield* submit(w.publicKey, [transfer(BOB, 10n)], owner)
      expect(sponsored.ok).toBe(true)
      // The owner's own invoke, after the sponsored one in the same block.
      const calls = [transfer(BOB, 1n)]
      const { r, s } = stark.sign(BigInt(yield* devnet.invokeHash({ account: w.publicKey, calls, nonce: 0n })), owner.key)
      const direct = yield* devnet.invoke({ account: w.publicKey, calls, nonce: 0n, signature: [hex(r), hex(s)] })
      const balanceAt = (block_id: unknown) =>
        Effect.map(
          rpc("starknet_call", { request: { contract_address: USDC, entry_point_selector: Schemas.selectorOf("balance_of"), calldata: [BOB] }, block_id }),
          (a) => a.result?.[0] ?? a.error
        )
      const nonceAt = (block_id: unknown) => Effect.map(rpc("starknet_getNonce", { block_id, contract_address: w.publicKey }), (a) => a.result ?? a.error)
      expect(yield* balanceAt("latest")).toBe("0x0")
      expect(yield* balanceAt("pre_confirmed")).toBe("0xb")
      expect(yield* nonceAt("latest")).toBe("0x0")
      expect(yield* nonceAt("pre_confirmed")).toBe("0x1")
      const block = (yield* rpc("starknet_getBlockWithTxs", { block_id: "pre_confirmed" })).result
      expect(block.block_number).toBe(closed + 1)
      // The sequencer the fee transfers pay is the one the headers name.
      expect(block.sequencer_address).toBe("0x1176a1bd84444c89232ec27754698e5d2e7e1a7f1539f12027f28b23ec9f3d8")
      expect((yield* rpc("starknet_getBlockWithTxHashes", { block_id: "latest" })).result.sequencer_address).toBe(block.sequencer_address)
      expect(block).not.toHaveProperty("block_hash")
      expect(block).not.toHaveProperty("parent_hash")
      expect(block).not.toHaveProperty("status")
      expect(block.transactions.map((t: any) => t.transaction_hash)).toEqual([sponsored.txHash, direct])
      const hashes = (yield* rpc("starknet_getBlockWithTxHashes", { block_id: "pre_confirmed" })).result
      expect(hashes.transactions).toEqual([sponsored.txHash, direct])
      const receipts = (yield* rpc("starknet_getBlockWithReceipts", { block_id: "pre_confirmed" })).result
      expect(receipts.transactions.map((t: any) => t.receipt.execution_status)).toEqual(["SUCCEEDED", "SUCCEEDED"])
      expect(receipts.transactions[1].receipt.finality_status).toBe("PRE_CONFIRMED")
      expect((yield* rpc("starknet_getBlockTransactionCount", { block_id: "pre_confirmed" })).result).toBe(2)
      // Once the block closes, latest and pre_confirmed agree again, and the block being built is empty.
      yield* devnet.mineBlock
      expect(yield* balanceAt("latest")).toBe("0xb")
      expect(yield* balanceAt("pre_confirmed")).toBe("0xb")
      expect((yield* rpc("starknet_getBlockWithTxHashes", { block_id: "pre_confirmed" })).result).toMatchObject({ block_number: closed + 2, transactions: [] })
    })))
  it.live("a receipt in the block being built is PRE_CONFIRMED (its number, no hash), and the block closes with the outcome seen there, however late it closes", () =>
    withDevnet(Effect.gen(function*() {
      const { url } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const devnet = yield* Devnet.Devnet
      const rpc = yield* StarknetRpc.StarknetRpc
      const served = (method: string, params: unknown) =>
        Effect.promise(() =>
          fetch(url, { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) }).then((r) => r.json() as Promise<any>)
        )
      const w = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000n } })
      const owner = { key: keystore.decryptLegacy(w.encryptedPrivateKey, PIN) }
      const closed = (yield* devnet.mineBlock).blockNumber
      // An outside execution valid only from a few seconds on, sent without the paymaster's simulation: in the
      // block being built now it reverts (too early).
      const now = BigInt(yield* devnet.blockTimestamp)
      const { calldata } = yield* signOutside(w.publicKey, [transfer(BOB, 7n)], owner, { after: now + 3n })
      const txHash = yield* devnet.submitOutside(w.publicKey, calldata)
      const status = yield* rpc.getTransactionStatus(txHash)
      expect(status).toMatchObject({ finalityStatus: "PRE_CONFIRMED", executionStatus: "REVERTED" })
      expect(Transactions.isFinal(status)).toBe(false)
      const receipt = yield* rpc.getTransactionReceipt(txHash)
      expect(receipt).toMatchObject({ finalityStatus: "PRE_CONFIRMED", executionStatus: "REVERTED", blockNumber: closed + 1 })
      // Served: TXN_RECEIPT_WITH_BLOCK_INFO of the pre-confirmed block (block_number, no block_hash), its fee transfer.
      const wire = (yield* served("starknet_getTransactionReceipt", { transaction_hash: txHash })).result
      expect(wire).toMatchObject({ finality_status: "PRE_CONFIRMED", execution_status: "REVERTED", block_number: closed + 1 })
      expect(wire).not.toHaveProperty("block_hash")
      expect(wire.events).toHaveLength(1)
      const header = (yield* served("starknet_getBlockWithTxHashes", { block_id: "pre_confirmed" })).result
      // The block being built has its timestamp once a transaction ran in it; closing it 10 s later changes neither
      // that timestamp nor what ran (a sequencer executes a transaction once, in the block it opened).
      yield* devnet.advanceTime("10 seconds")
      expect((yield* served("starknet_getBlockWithTxHashes", { block_id: "pre_confirmed" })).result.timestamp).toBe(header.timestamp)
      const mined = yield* devnet.mineBlock
      expect(mined).toEqual({ blockNumber: closed + 1, timestamp: header.timestamp })
      const final = yield* rpc.getTransactionStatus(txHash)
      expect(final).toMatchObject({ finalityStatus: "ACCEPTED_ON_L2", executionStatus: "REVERTED" })
      const closedReceipt = (yield* served("starknet_getTransactionReceipt", { transaction_hash: txHash })).result
      expect(closedReceipt).toMatchObject({ finality_status: "ACCEPTED_ON_L2", execution_status: "REVERTED", block_number: closed + 1 })
      expect(closedReceipt.block_hash).toMatch(/^0x[0-9a-f]+$/)
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(0n)
      // The next block runs at the clock's time: the same payload, sent again, now runs.
      const again = yield* devnet.submitOutside(w.publicKey, calldata)
      expect(yield* rpc.getTransactionStatus(again)).toMatchObject({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" })
      yield* devnet.mineBlock
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(7n)
    })))

  it.live("a payment seen SUCCEEDED in the block being built stays SUCCEEDED when that block closes after its window", () =>
    withDevnet(Effect.gen(function*() {
      const devnet = yield* Devnet.Devnet
      const rpc = yield* StarknetRpc.StarknetRpc
      const w = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000n } })
      const owner = { key: keystore.decryptLegacy(w.encryptedPrivateKey, PIN) }
      yield* devnet.mineBlock
      const now = BigInt(yield* devnet.blockTimestamp)
      // Open for 2 s. Seen executed at pre_confirmed (what resolves a payment as executed), then the block closes 5 s
      // later: it closes at the timestamp it ran at, so the transfer stands. (It used to be run again at the closing
      // time and revert, after a reader had been told it executed.)
      const { calldata } = yield* signOutside(w.publicKey, [transfer(BOB, 5n)], owner, { before: now + 2n })
      const txHash = yield* devnet.submitOutside(w.publicKey, calldata)
      expect(yield* rpc.getTransactionStatus(txHash)).toMatchObject({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" })
      yield* devnet.advanceTime("5 seconds")
      yield* devnet.mineBlock
      expect(yield* rpc.getTransactionStatus(txHash)).toMatchObject({ finalityStatus: "ACCEPTED_ON_L2", executionStatus: "SUCCEEDED" })
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(5n)
    })))
})
