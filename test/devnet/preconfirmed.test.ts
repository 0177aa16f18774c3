/**
 * `pre_confirmed` reads the block being built (spec 0.9, `@starknet-io/starknet-types-09` `api/components`:
 * `PRE_CONFIRMED_BLOCK_HEADER`, which has no hash, parent, root or status): the pending transactions run in order,
 * and state read there sees what they did.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Constants, Devnet, Schemas } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import * as keystore from "../../src/internal/keystore.js"
import * as stark from "../../src/internal/stark.js"
import { submit, transfer } from "../helpers/chain.js"

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
})
