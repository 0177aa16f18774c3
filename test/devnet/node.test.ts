import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Contract, hash, num, RpcProvider } from "starknet"
import { Constants, Devnet, Errors, Schemas } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import * as keystore from "../../src/internal/crypto/keystore.js"
import * as stark from "../../src/internal/crypto/stark.js"
import { submit, transfer } from "../helpers/chain.js"

const PIN = "1357"
const BOB = "0xb0b"
const USDC = Constants.STARKNET_CONTRACTS.USDC.contractAddress
const STRK = Constants.STARKNET_CONTRACTS.STRK.contractAddress
const SEQUENCER = "0x1176a1bd84444c89232ec27754698e5d2e7e1a7f1539f12027f28b23ec9f3d8"

/** A served devnet whose blocks close only when mined, and a raw JSON-RPC client for it. */
const served = Effect.gen(function*() {
  const server = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
  const devnet = yield* Devnet.Devnet
  const rpc = (method: string, params: unknown = {}) =>
    Effect.promise(() =>
      fetch(server.url, { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) }).then((r) => r.json() as Promise<any>)
    )
  const w = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000n } })
  const owner = { key: keystore.decryptLegacy(w.encryptedPrivateKey, PIN) }
  return { ...server, devnet, rpc, w, owner }
})
const withDevnet = <A, E>(effect: Effect.Effect<A, E, any>) =>
  effect.pipe(Effect.scoped, Effect.provide(Devnet.layer({ blockTime: "1 hour", l1AcceptAfterBlocks: 3 }))) as Effect.Effect<A, E>

describe("the served devnet as an RPC 0.9 node", () => {
  it.live("state is read at any block_id: before and after a transfer, by number, hash and tag; an unknown block is 24", () =>
    withDevnet(Effect.gen(function*() {
      const { devnet, owner, rpc, w } = yield* served
      const before = (yield* devnet.mineBlock).blockNumber
      expect((yield* submit(w.publicKey, [transfer(BOB, 10n)], owner)).ok).toBe(true)
      const after = (yield* devnet.mineBlock).blockNumber
      const balanceAt = (block_id: unknown) =>
        Effect.map(rpc("starknet_call", { request: { contract_address: USDC, entry_point_selector: Schemas.selectorOf("balance_of"), calldata: [w.publicKey] }, block_id }), (r) => r.result?.[0] ?? r.error)
      expect(yield* balanceAt({ block_number: before })).toBe("0x3e8")
      expect(yield* balanceAt({ block_number: after })).toBe("0x3de")
      expect(yield* balanceAt("latest")).toBe("0x3de")
      expect(yield* balanceAt("pre_confirmed")).toBe("0x3de")
      const hashBefore = (yield* rpc("starknet_getBlockWithTxHashes", { block_id: { block_number: before } })).result.block_hash
      expect(yield* balanceAt({ block_hash: hashBefore })).toBe("0x3e8")
      // l1_accepted: 3 blocks after inclusion.
      expect((yield* rpc("starknet_getBlockWithTxHashes", { block_id: "l1_accepted" })).result.block_number).toBe(Math.max(0, after - 3))
      for (const _ of [1, 2, 3]) yield* devnet.mineBlock
      expect((yield* rpc("starknet_getBlockWithTxHashes", { block_id: "l1_accepted" })).result.block_number).toBe(after)
      expect(yield* balanceAt("l1_accepted")).toBe("0x3de")
      // Nonces at a block: the relayer sent the INVOKE, the wallet's own nonce did not move.
      expect((yield* rpc("starknet_getNonce", { block_id: "latest", contract_address: devnet.relayer })).error.code).toBe(20)
      expect((yield* rpc("starknet_getNonce", { block_id: { block_number: after }, contract_address: w.publicKey })).result).toBe("0x0")
      // The wallet did not exist at genesis.
      expect((yield* rpc("starknet_getNonce", { block_id: { block_number: 0 }, contract_address: w.publicKey })).error.code).toBe(20)
      expect((yield* rpc("starknet_getClassHashAt", { block_id: { block_number: 0 }, contract_address: USDC })).result).toMatch(/^0x/)
      expect((yield* balanceAt({ block_number: after + 1000 })).code).toBe(24)
      expect((yield* balanceAt({ block_hash: "0x123" })).code).toBe(24)
    })))

  it.live("a missing entrypoint is error 21; a contract's own panic is 40 with revert_error", () =>
    withDevnet(Effect.gen(function*() {
      const { rpc, w } = yield* served
      const missing = yield* rpc("starknet_call", { request: { contract_address: USDC, entry_point_selector: Schemas.selectorOf("nope"), calldata: [] }, block_id: "latest" })
      expect(missing.error.code).toBe(21)
      const panic = yield* rpc("starknet_call", { request: { contract_address: w.publicKey, entry_point_selector: Schemas.selectorOf("supports_interface"), calldata: [] }, block_id: "latest" })
      expect(panic.error).toMatchObject({ code: 40, data: { revert_error: "Failed to deserialize param #1" } })
    })))

  it.live("receipts carry the fee Transfer (STRK from the sender to the sequencer), events are queried with filters and pages", () =>
    withDevnet(Effect.gen(function*() {
      const { devnet, owner, rpc, w } = yield* served
      const a = yield* submit(w.publicKey, [transfer(BOB, 1n)], owner)
      const b = yield* submit(w.publicKey, [transfer(BOB, 2n), transfer("0xcafe", 3n)], owner)
      const block = (yield* devnet.mineBlock).blockNumber
      const receipt = (yield* rpc("starknet_getTransactionReceipt", { transaction_hash: a.txHash })).result
      const header = (yield* rpc("starknet_getBlockWithTxHashes", { block_id: { block_number: block } })).result
      expect(receipt).toMatchObject({ block_number: block, block_hash: header.block_hash, execution_status: "SUCCEEDED", finality_status: "ACCEPTED_ON_L2" })
      const transferKey = Schemas.selectorOf("Transfer")
      expect(receipt.events.at(-1)).toEqual({ from_address: STRK, keys: [transferKey, devnet.relayer, SEQUENCER], data: ["0x0", "0x0"] })
      // The app's Transfer is found only by token, from and to: the fee transfer is a Transfer too.
      expect(receipt.events.filter((e: any) => e.keys[0] === transferKey)).toHaveLength(2)
      expect(receipt.events.filter((e: any) => e.from_address === USDC && BigInt(e.keys[1]) === BigInt(w.publicKey) && BigInt(e.keys[2]) === BigInt(BOB))).toHaveLength(1)

      const all = (yield* rpc("starknet_getEvents", { filter: { from_block: { block_number: block }, to_block: "latest", chunk_size: 100 } })).result
      expect(all.events).toHaveLength(5)
      expect(all.continuation_token).toBeUndefined()
      const toBob = (yield* rpc("starknet_getEvents", { filter: { address: USDC, keys: [[transferKey], [], [BOB]], chunk_size: 100 } })).result
      expect(toBob.events.map((e: any) => e.data[0])).toEqual(["0x1", "0x2"])
      expect(toBob.events.map((e: any) => e.transaction_hash)).toEqual([a.txHash, b.txHash])
      // Pages of 2 give the same events, in order.
      const paged: Array<unknown> = []
      let token: string | undefined
      do {
        const page = (yield* rpc("starknet_getEvents", { filter: { from_block: { block_number: block }, chunk_size: 2, ...(token ? { continuation_token: token } : {}) } })).result
        paged.push(...page.events)
        token = page.continuation_token
      } while (token !== undefined)
      expect(paged).toEqual(all.events)
      // Blocks with receipts, and the transaction by hash.
      const withReceipts = (yield* rpc("starknet_getBlockWithReceipts", { block_id: { block_number: block } })).result
      expect(withReceipts.transactions.map((t: any) => t.transaction.transaction_hash)).toEqual([a.txHash, b.txHash])
      expect(withReceipts.transactions[0].receipt.events).toEqual(receipt.events)
      const byHash = (yield* rpc("starknet_getTransactionByHash", { transaction_hash: b.txHash })).result
      expect(byHash).toMatchObject({ type: "INVOKE", version: "0x3", sender_address: devnet.relayer, nonce: "0x1" })
      expect((yield* rpc("starknet_getTransactionByHash", { transaction_hash: "0x1234" })).error.code).toBe(29)
      expect((yield* rpc("starknet_blockHashAndNumber")).result).toEqual({ block_hash: header.block_hash, block_number: block })
      expect((yield* rpc("starknet_syncing")).result).toBe(false)
    })))

  it.live("statuses: RECEIVED while held, PRE_CONFIRMED with its outcome in the block being built, then ACCEPTED_ON_L2 and ACCEPTED_ON_L1; a direct invoke failing validation is refused at submission", () =>
    withDevnet(Effect.gen(function*() {
      const { devnet, owner, rpc, w } = yield* served
      yield* devnet.setFaults({ holdBlocks: 1 })
      const { txHash } = yield* submit(w.publicKey, [transfer(BOB, 1n)], owner)
      expect((yield* rpc("starknet_getTransactionStatus", { transaction_hash: txHash })).result).toEqual({ finality_status: "RECEIVED" })
      yield* devnet.setFaults({ holdBlocks: 0 })
      yield* devnet.mineBlock
      expect((yield* rpc("starknet_getTransactionStatus", { transaction_hash: txHash })).result).toEqual({ finality_status: "PRE_CONFIRMED", execution_status: "SUCCEEDED" })
      yield* devnet.mineBlock
      expect((yield* rpc("starknet_getTransactionStatus", { transaction_hash: txHash })).result).toEqual({ finality_status: "ACCEPTED_ON_L2", execution_status: "SUCCEEDED" })
      for (const _ of [1, 2, 3]) yield* devnet.mineBlock
      expect((yield* rpc("starknet_getTransactionStatus", { transaction_hash: txHash })).result.finality_status).toBe("ACCEPTED_ON_L1")
      const refused = yield* Effect.flip(devnet.invoke({ account: w.publicKey, calls: [transfer(BOB, 1n)], signature: ["0x1", "0x2"], nonce: 0n }))
      expect(refused).toBeInstanceOf(Errors.PaymasterError)
      const statuses = (yield* devnet.transactions).map((t) => t.status.finalityStatus)
      expect(statuses).not.toContain("REJECTED")
    })))

  it.live("storage at OpenZeppelin's keys: balances, total supply, the public key, used SRC-9 nonces", () =>
    withDevnet(Effect.gen(function*() {
      const { devnet, owner, rpc, w } = yield* served
      const storage = (contract: string, key: bigint, block_id: unknown = "latest") =>
        Effect.map(rpc("starknet_getStorageAt", { contract_address: contract, key: num.toHex(key), block_id }), (r) => { if (r.result === undefined) throw new Error(JSON.stringify(r.error)); return BigInt(r.result) })
      const balances = BigInt(hash.starknetKeccak("ERC20_balances"))
      const at = (base: bigint, ...keys: ReadonlyArray<string>) => keys.reduce((k, key) => BigInt(hash.computePedersenHash(k, key)), base)
      expect(yield* storage(USDC, at(balances, w.publicKey))).toBe(1_000n)
      expect(yield* storage(USDC, at(balances, w.publicKey) + 1n)).toBe(0n)
      expect(yield* storage(USDC, BigInt(hash.starknetKeccak("ERC20_total_supply")))).toBeGreaterThanOrEqual(1_000n)
      expect(yield* storage(w.publicKey, BigInt(hash.starknetKeccak("Account_public_key")))).toBe(stark.publicKeyOf(owner.key))
      // The wallet's deployment belongs to the next block; the nonce is used in the one after.
      yield* devnet.mineBlock
      expect((yield* submit(w.publicKey, [transfer(BOB, 4n)], owner, { nonce: 777n })).ok).toBe(true)
      const mined = (yield* devnet.mineBlock).blockNumber
      expect(yield* storage(w.publicKey, at(BigInt(hash.starknetKeccak("SRC9_nonces")), "0x309"))).toBe(1n)
      expect(yield* storage(w.publicKey, at(BigInt(hash.starknetKeccak("SRC9_nonces")), "0x309"), { block_number: mined - 1 })).toBe(0n)
      expect(yield* storage(USDC, at(balances, BOB))).toBe(4n)
      expect(yield* storage(USDC, 12345n)).toBe(0n)
    })))

  it.live("starknet.js: RpcProvider reads blocks by number and tag, classes, nonces, receipts; Contract works from getClassAt's ABI", () =>
    withDevnet(Effect.gen(function*() {
      const { devnet, owner, url, w } = yield* served
      const provider = new RpcProvider({ nodeUrl: url, specVersion: "0.9.0" as never })
      const { txHash } = yield* submit(w.publicKey, [transfer(BOB, 25n)], owner)
      const mined = (yield* devnet.mineBlock).blockNumber
      const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

      const latest = yield* promise(() => provider.getBlock("latest"))
      expect(latest.block_number).toBe(mined)
      const byNumber = yield* promise(() => provider.getBlock(mined))
      expect(byNumber).toEqual(latest)
      const withTxs = yield* promise(() => provider.getBlockWithTxs(mined))
      expect(withTxs.transactions.map((t) => t.transaction_hash)).toEqual([txHash])
      const latestAccepted = yield* promise(() => provider.getBlockLatestAccepted())
      expect(latestAccepted).toEqual({ block_hash: (latest as { block_hash: string }).block_hash, block_number: mined })
      expect(yield* promise(() => provider.getBlockNumber())).toBe(mined)

      expect(BigInt(yield* promise(() => provider.getClassHashAt(w.publicKey)))).toBe(0x5e55104acc0a7c1a55e5d3e7d1e70000000000000000000000000000000001n)
      expect(BigInt(yield* promise(() => provider.getNonceForAddress(w.publicKey)))).toBe(0n)
      const receipt = yield* promise(() => provider.getTransactionReceipt(txHash!))
      expect(receipt.isSuccess()).toBe(true)
      const tx = yield* promise(() => provider.getTransactionByHash(txHash!))
      expect(BigInt((tx as { sender_address: string }).sender_address)).toBe(BigInt(devnet.relayer))

      // Contracts without a hand-written ABI: the class's own.
      const tokenClass = yield* promise(() => provider.getClassAt(USDC))
      const token = new Contract({ abi: (tokenClass as { abi: any }).abi, address: USDC, providerOrAccount: provider })
      expect(yield* promise(() => token.call("balance_of", [BOB]))).toBe(25n)
      expect(yield* promise(() => token.call("decimals"))).toBe(6n)
      const accountClass = yield* promise(() => provider.getClassAt(w.publicKey))
      const account = new Contract({ abi: (accountClass as { abi: any }).abi, address: w.publicKey, providerOrAccount: provider })
      expect(yield* promise(() => account.call("get_snip9_version"))).toBe(2n)
      expect(yield* promise(() => account.call("supports_interface", ["0x3f918d17e5ee77373b56385708f855659a07f75997f365cf87748628532a055"]))).toBe(true)
      const session = yield* promise(() => account.call("get_session_data", ["0x1"]))
      expect(session).toEqual({ valid_until: 0n, max_calls: 0n, calls_used: 0n, allowed_entrypoints_len: 0n })
      // Events parsed with the class's ABI: the token's Transfer to BOB.
      const parsed = token.parseEvents(receipt)
      expect(parsed.some((e) => Object.values(e).some((v: any) => v?.to !== undefined && BigInt(v.to) === BigInt(BOB) && v.value === 25n))).toBe(true)
      const events = yield* promise(() => provider.getEvents({ address: USDC, keys: [[num.toHex(hash.starknetKeccak("Transfer"))]], chunk_size: 10 }))
      expect(events.events.length).toBeGreaterThanOrEqual(1)
    })))
})
