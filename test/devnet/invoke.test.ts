/**
 * The owner's direct path: a 2-felt signature is checked against the SNIP-8 INVOKE v3 transaction hash (as
 * OpenZeppelin's `validate_transaction` checks it), with every field the transaction carries. starknet.js 10.8 is
 * the independent oracle: its `v3hash.calculateInvokeTransactionHash` and its `Account.execute` over the served
 * devnet's `starknet_addInvokeTransaction` (`@starknet-io/starknet-types-09`, `BROADCASTED_INVOKE_TXN`).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Account, constants, ec, RpcProvider, v3hash } from "starknet"
import { Constants, Devnet, OutsideExecution, Schemas } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import * as keystore from "../../src/internal/crypto/keystore.js"
import * as stark from "../../src/internal/crypto/stark.js"
import { transfer } from "../helpers/chain.js"

const PIN = "1357"
const BOB = "0xb0b"
const USDC = Constants.STARKNET_CONTRACTS.USDC.contractAddress
const zeroBound = { max_amount: "0x0", max_price_per_unit: "0x0" }
const hex = (v: bigint | Uint8Array) => "0x" + (typeof v === "bigint" ? v.toString(16) : Buffer.from(v).toString("hex"))

const fields = {
  resourceBounds: {
    l1Gas: { maxAmount: 0x10n, maxPricePerUnit: 0x20n },
    l2Gas: { maxAmount: 0x30000n, maxPricePerUnit: 0x40n },
    l1DataGas: { maxAmount: 0x50n, maxPricePerUnit: 0x60n }
  },
  tip: 7n,
  paymasterData: ["0xaa"],
  accountDeploymentData: ["0xbb", "0xcc"],
  nonceDataAvailabilityMode: "L2" as const,
  feeDataAvailabilityMode: "L1" as const
}

/** A provider that records the JSON-RPC methods it sends. */
const recording = (nodeUrl: string, options: { readonly specVersion?: "0.9.0"; readonly blockIdentifier?: "pre_confirmed" } = {}) => {
  const methods: Array<string> = []
  const provider = new RpcProvider({
    nodeUrl,
    ...options,
    baseFetch: ((input: string, init: RequestInit) => {
      methods.push(...[JSON.parse(String(init.body))].flat().map((b: { method: string }) => b.method))
      return fetch(input, init)
    }) as typeof fetch
  })
  return { provider, methods }
}
const rpcAt = (url: string) => (method: string, params: unknown) =>
  Effect.promise(() => fetch(url, { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) }).then((r) => r.json() as Promise<any>))

const withDevnet = <A, E>(effect: Effect.Effect<A, E, any>) =>
  effect.pipe(Effect.scoped, Effect.provide(Devnet.layer({ blockTime: "1 hour" }))) as Effect.Effect<A, E>

const wallet = Effect.gen(function*() {
  const devnet = yield* Devnet.Devnet
  const w = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000n } })
  return { devnet, address: w.publicKey, key: keystore.decryptLegacy(w.encryptedPrivateKey, PIN) }
})

describe("the owner's direct invoke is signed over the INVOKE v3 transaction hash", () => {
  it.live("the hash the devnet verifies and answers is starknet.js's, every field included; the former stand-in is refused", () =>
    withDevnet(Effect.gen(function*() {
      const { address, devnet, key } = yield* wallet
      const calls = [transfer(BOB, 5n)]
      const calldata = [BigInt(calls.length), ...calls.flatMap((c) => [BigInt(c.to), BigInt(c.selector), BigInt(c.calldata.length), ...c.calldata.map(BigInt)])]
      const expected = v3hash.calculateInvokeTransactionHash(
        address,
        3n,
        calldata.map((v) => v.toString()),
        devnet.chainId as constants.StarknetChainId,
        0n,
        fields.accountDeploymentData,
        1,
        0,
        {
          l1_gas: { max_amount: 0x10n, max_price_per_unit: 0x20n },
          l2_gas: { max_amount: 0x30000n, max_price_per_unit: 0x40n },
          l1_data_gas: { max_amount: 0x50n, max_price_per_unit: 0x60n }
        },
        7n,
        fields.paymasterData
      )
      expect(BigInt(yield* devnet.invokeHash({ account: address, calls, nonce: 0n, ...fields }))).toBe(BigInt(expected))
      // Signed over a hash without the fee fields, or over the direct-path formula with valid_until = 0: refused.
      const zeroFields = yield* devnet.invokeHash({ account: address, calls, nonce: 0n })
      const standIn = OutsideExecution.directSessionHash(address, devnet.chainId, 0n, 0n, calls)
      for (const h of [zeroFields, standIn]) {
        const { r, s } = stark.sign(BigInt(h), key)
        const refused = yield* Effect.flip(devnet.invoke({ account: address, calls, nonce: 0n, signature: [hex(r), hex(s)], ...fields }))
        expect(refused).toMatchObject({ code: 55, revertReason: "Account validation failed: Account: invalid signature" })
      }
      const { r, s } = stark.sign(BigInt(expected), key)
      const txHash = yield* devnet.invoke({ account: address, calls, nonce: 0n, signature: [hex(r), hex(s)], ...fields })
      expect(BigInt(txHash)).toBe(BigInt(expected))
      // A nonce that is not the account's next is RPC 0.9's 52, before any signature is looked at.
      expect(yield* Effect.flip(devnet.invoke({ account: address, calls, nonce: 5n, signature: [hex(r), hex(s)], ...fields }))).toMatchObject({ code: 52 })
      const block = yield* devnet.mineBlock
      const served = (yield* devnet.block({ blockNumber: block.blockNumber })).transactions[0]!
      expect(served).toMatchObject({ transactionHash: txHash, tip: 7n, paymasterData: ["0xaa"], accountDeploymentData: ["0xbb", "0xcc"], nonceDataAvailabilityMode: "L2" })
      expect(served.resourceBounds).toEqual(fields.resourceBounds)
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(5n)
    })))

  it.live("starknet.js Account.execute (owner key) over the served devnet: accepted with the owner's signature, 55 with another key's", () =>
    withDevnet(Effect.gen(function*() {
      const { address, devnet, key } = yield* wallet
      const { url } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const provider = new RpcProvider({ nodeUrl: url, specVersion: "0.9.0" })
      const resourceBounds = {
        l1_gas: { max_amount: 0x10n, max_price_per_unit: 0x20n },
        l2_gas: { max_amount: 0x30000n, max_price_per_unit: 0x40n },
        l1_data_gas: { max_amount: 0x50n, max_price_per_unit: 0x60n }
      }
      const owner = new Account({ provider, address, signer: hex(key), cairoVersion: "1" })
      const call = { contractAddress: USDC, entrypoint: "transfer", calldata: [BOB, "9", "0"] }
      const { transaction_hash } = yield* Effect.promise(() => owner.execute(call, { resourceBounds, tip: 3n }))
      yield* devnet.mineBlock
      const receipt = yield* Effect.promise(() => provider.getTransactionReceipt(transaction_hash))
      expect(receipt.isSuccess()).toBe(true)
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(9n)
      // The transaction as served hashes, by starknet.js, to the hash the devnet answered.
      const tx = (yield* Effect.promise(() => provider.getTransactionByHash(transaction_hash))) as any
      expect(tx.tip).toBe("0x3")
      expect(tx.resource_bounds.l2_gas).toEqual({ max_amount: "0x30000", max_price_per_unit: "0x40" })
      const recomputed = v3hash.calculateInvokeTransactionHash(
        tx.sender_address,
        3n,
        tx.calldata,
        devnet.chainId as constants.StarknetChainId,
        tx.nonce,
        tx.account_deployment_data,
        0,
        0,
        {
          l1_gas: { max_amount: BigInt(tx.resource_bounds.l1_gas.max_amount), max_price_per_unit: BigInt(tx.resource_bounds.l1_gas.max_price_per_unit) },
          l2_gas: { max_amount: BigInt(tx.resource_bounds.l2_gas.max_amount), max_price_per_unit: BigInt(tx.resource_bounds.l2_gas.max_price_per_unit) },
          l1_data_gas: { max_amount: BigInt(tx.resource_bounds.l1_data_gas.max_amount), max_price_per_unit: BigInt(tx.resource_bounds.l1_data_gas.max_price_per_unit) }
        },
        tx.tip,
        tx.paymaster_data
      )
      expect(BigInt(recomputed)).toBe(BigInt(transaction_hash))
      // Another key signing for the same account: refused at submission (55), nothing changes.
      const impostor = new Account({ provider, address, signer: hex(ec.starkCurve.utils.randomPrivateKey()), cairoVersion: "1" })
      const error = yield* Effect.promise(() => impostor.execute(call, { resourceBounds, tip: 3n }).then(() => undefined, (e: unknown) => e as any))
      expect(error?.baseError?.code).toBe(55)
      expect(error?.baseError?.data).toBe("Account validation failed: Account: invalid signature")
      yield* devnet.mineBlock
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(9n)
      expect(BigInt(yield* Effect.promise(() => provider.getNonceForAddress(address)))).toBe(1n)
    })))

  it.live("starknet_addInvokeTransaction refuses a version other than 3 (61) and calldata that is not an Array<Call> (55)", () =>
    withDevnet(Effect.gen(function*() {
      const { address } = yield* wallet
      const { url } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const bound = { max_amount: "0x0", max_price_per_unit: "0x0" }
      const send = (tx: Record<string, unknown>) =>
        Effect.promise(() =>
          fetch(url, {
            method: "POST",
            body: JSON.stringify({
              jsonrpc: "2.0",
              id: 1,
              method: "starknet_addInvokeTransaction",
              params: {
                invoke_transaction: {
                  type: "INVOKE", sender_address: address, calldata: ["0x1"], version: "0x3", signature: ["0x1", "0x2"], nonce: "0x0",
                  resource_bounds: { l1_gas: bound, l2_gas: bound, l1_data_gas: bound }, tip: "0x0", paymaster_data: [], account_deployment_data: [],
                  nonce_data_availability_mode: "L1", fee_data_availability_mode: "L1", ...tx
                }
              }
            })
          }).then((r) => r.json() as Promise<any>)
        )
      expect((yield* send({ version: "0x1" })).error).toEqual({ code: 61, message: "the transaction version is not supported" })
      expect((yield* send({})).error).toEqual({ code: 55, message: "Account validation failed", data: "Failed to deserialize param #1" })
      expect((yield* send({ tip: "0x" + (2n ** 64n).toString(16) })).error.code).toBe(-32602)
    })))

  it.live("starknet.js Account.execute with no fee options (spec 0.9 and its default 0.10): estimated, accepted, the balance moves", () =>
    withDevnet(Effect.gen(function*() {
      const { address, devnet, key } = yield* wallet
      const { url } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const call = { contractAddress: USDC, entrypoint: "transfer", calldata: [BOB, "9", "0"] }
      let moved = 0n
      for (const options of [{ specVersion: "0.9.0" as const }, {}]) {
        const { methods, provider } = recording(url, options)
        const owner = new Account({ provider, address, signer: hex(key), cairoVersion: "1" })
        const { transaction_hash } = yield* Effect.promise(() => owner.execute(call))
        expect(methods.filter((m) => m !== "starknet_getBlockWithTxs")).toEqual([
          "starknet_getNonce",
          "starknet_chainId",
          "starknet_estimateFee",
          "starknet_getNonce",
          "starknet_addInvokeTransaction"
        ])
        yield* devnet.mineBlock
        moved += 9n
        expect(yield* devnet.balanceOf(USDC, BOB)).toBe(moved)
        // The bounds it sent are the estimate (without signature: 111,000 L2 gas) with starknet.js's 50% overhead;
        // the receipt's gas counts the two signature felts too.
        const tx = (yield* Effect.promise(() => provider.getTransactionByHash(transaction_hash))) as any
        const receipt = (yield* Effect.promise(() => provider.getTransactionReceipt(transaction_hash))) as any
        expect(receipt.execution_status).toBe("SUCCEEDED")
        expect(BigInt(tx.resource_bounds.l2_gas.max_amount)).toBe(111_000n * 3n / 2n)
        expect(receipt.execution_resources).toEqual({ l1_gas: 0, l1_data_gas: 256, l2_gas: 113_000 })
      }
    })))

  it.live("starknet_estimateFee answers 0.9's FEE_ESTIMATE by the devnet's gas model; a signed estimate is checked over the query-version hash", () =>
    withDevnet(Effect.gen(function*() {
      const { address, devnet, key } = yield* wallet
      const { url } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const { provider } = recording(url, { specVersion: "0.9.0" })
      const owner = new Account({ provider, address, signer: hex(key), cairoVersion: "1" })
      const call = { contractAddress: USDC, entrypoint: "transfer", calldata: [BOB, "9", "0"] }
      const estimate = yield* Effect.promise(() => owner.estimateInvokeFee(call))
      // 100,000 + 1,000 x 7 calldata felts + 2,000 x 2 events (Transfer, fee Transfer); 128 x 2 contracts written;
      // starknet.js answers them with its 50% overhead.
      expect(estimate).toMatchObject({ overall_fee: 0n, unit: "FRI" })
      expect(estimate.resourceBounds).toEqual({
        l2_gas: { max_amount: 111_000n * 3n / 2n, max_price_per_unit: 0n },
        l1_gas: { max_amount: 0n, max_price_per_unit: 0n },
        l1_data_gas: { max_amount: 256n * 3n / 2n, max_price_per_unit: 0n }
      })
      // starknet.js signs an estimate with validation over the hash of version 2^128 + 3; the devnet checks it so
      // (a signature over version 3's hash would fail). Two signature felts more: 2,000 L2 gas more.
      const signed = yield* Effect.promise(() => owner.estimateInvokeFee(call, { skipValidate: false }))
      expect(signed.resourceBounds.l2_gas.max_amount).toBe(113_000n * 3n / 2n)
      // On the wire: exactly the FEE_ESTIMATE fields of @starknet-io/starknet-types-09.
      const rpc = rpcAt(url)
      const tx = {
        type: "INVOKE", sender_address: address, version: "0x100000000000000000000000000000003", signature: [], nonce: "0x0",
        calldata: ["0x1", USDC, Schemas.selectorOf("transfer"), "0x3", BOB, "0x9", "0x0"],
        resource_bounds: { l1_gas: zeroBound, l2_gas: zeroBound, l1_data_gas: zeroBound }, tip: "0x0", paymaster_data: [],
        account_deployment_data: [], nonce_data_availability_mode: "L1", fee_data_availability_mode: "L1"
      }
      const answer = yield* rpc("starknet_estimateFee", { request: [tx], simulation_flags: ["SKIP_VALIDATE"], block_id: "latest" })
      expect(answer.result).toEqual([{
        l1_gas_consumed: "0x0", l1_gas_price: "0x0", l2_gas_consumed: "0x1b198", l2_gas_price: "0x0",
        l1_data_gas_consumed: "0x100", l1_data_gas_price: "0x0", overall_fee: "0x0", unit: "FRI"
      }])
      // Validated without a signature: 41, naming the transaction and the account's __validate__ frame.
      const refused = yield* rpc("starknet_estimateFee", { request: [tx, { ...tx, nonce: "0x1" }], simulation_flags: [], block_id: "latest" })
      expect(refused.error).toMatchObject({ code: 41, message: "Transaction execution error", data: { transaction_index: 0 } })
      expect(refused.error.data.execution_error).toMatchObject({ contract_address: address, selector: Schemas.selectorOf("__validate__") })
      // The second of two with the same nonce: 41 at index 1.
      const twice = yield* rpc("starknet_estimateFee", { request: [tx, tx], simulation_flags: ["SKIP_VALIDATE"], block_id: "latest" })
      expect(twice.error.data).toMatchObject({ transaction_index: 1, execution_error: "Invalid transaction nonce: expected 1, got 0" })
      // Nothing was kept.
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(0n)
      expect(BigInt(yield* Effect.promise(() => provider.getNonceForAddress(address)))).toBe(0n)
    })))

  it.live("starknet_simulateTransactions runs the account's rules on a copy: traces with validate, execute and fee transfer; flags honoured", () =>
    withDevnet(Effect.gen(function*() {
      const { address, devnet, key } = yield* wallet
      const { url } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const { provider } = recording(url, { specVersion: "0.9.0" })
      const owner = new Account({ provider, address, signer: hex(key), cairoVersion: "1" })
      const call = { contractAddress: USDC, entrypoint: "transfer", calldata: [BOB, "9", "0"] }
      const { simulated_transactions: [validated] } = yield* Effect.promise(() => owner.simulateTransaction([{ type: "INVOKE", payload: [call] }], { skipValidate: false }))
      const trace = (validated as any).transaction_trace
      expect(trace.validate_invocation).toMatchObject({ contract_address: address, entry_point_selector: Schemas.selectorOf("__validate__"), result: ["0x56414c4944"] })
      const execute = trace.execute_invocation
      expect(execute).toMatchObject({ contract_address: address, caller_address: "0x0", is_reverted: false, result: ["0x1", "0x1", "0x1"] })
      expect(execute.calls).toHaveLength(1)
      expect(execute.calls[0]).toMatchObject({ contract_address: USDC, caller_address: address, entry_point_type: "EXTERNAL", call_type: "CALL" })
      expect(execute.calls[0].events).toEqual([{ order: 0, keys: [Schemas.selectorOf("Transfer"), address, BOB], data: ["0x9", "0x0"] }])
      // starknet.js's defaults skip validation and the fee charge: no validate or fee-transfer invocation.
      const { simulated_transactions: [skipped] } = yield* Effect.promise(() => owner.simulateTransaction([{ type: "INVOKE", payload: [call] }]))
      expect((skipped as any).transaction_trace).not.toHaveProperty("validate_invocation")
      expect((skipped as any).transaction_trace).not.toHaveProperty("fee_transfer_invocation")
      const charged = yield* rpcAt(url)("starknet_simulateTransactions", {
        block_id: "latest",
        transactions: [{
          type: "INVOKE", sender_address: address, version: "0x3", signature: [], nonce: "0x0",
          calldata: ["0x1", USDC, Schemas.selectorOf("transfer"), "0x3", BOB, "0x9", "0x0"],
          resource_bounds: { l1_gas: zeroBound, l2_gas: zeroBound, l1_data_gas: zeroBound }, tip: "0x0", paymaster_data: [],
          account_deployment_data: [], nonce_data_availability_mode: "L1", fee_data_availability_mode: "L1"
        }],
        simulation_flags: ["SKIP_VALIDATE"]
      })
      expect(charged.result[0].transaction_trace.fee_transfer_invocation).toMatchObject({ contract_address: Constants.STARKNET_CONTRACTS.STRK.contractAddress, caller_address: address })
      expect(charged.result[0].fee_estimation).toMatchObject({ l2_gas_consumed: "0x1b198", unit: "FRI" })
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(0n)
    })))
  it.live("two starknet.js invokes from one account in one block: a nonce a pending one holds is 52; the pending nonce (pre_confirmed) lands", () =>
    withDevnet(Effect.gen(function*() {
      const { address, devnet, key } = yield* wallet
      const { url } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const { provider } = recording(url, { specVersion: "0.9.0" })
      const owner = new Account({ provider, address, signer: hex(key), cairoVersion: "1" })
      const call = (amount: string) => ({ contractAddress: USDC, entrypoint: "transfer", calldata: [BOB, amount, "0"] })
      const first = yield* Effect.promise(() => owner.execute(call("4")))
      const rpc = rpcAt(url)
      expect((yield* rpc("starknet_getNonce", { block_id: "pre_confirmed", contract_address: address })).result).toBe("0x1")
      expect((yield* rpc("starknet_getNonce", { block_id: "latest", contract_address: address })).result).toBe("0x0")
      // starknet.js 10.8 reads the nonce at its provider's block (default latest): 0 again, which the first holds.
      // A node refuses it (52), as the devnet now does; before, it was accepted and silently dropped at closing.
      const again = yield* Effect.promise(() => owner.execute(call("6")).then(() => undefined, (e: unknown) => e as any))
      expect(again?.baseError?.code).toBe(52)
      // Reading at pre_confirmed, it signs with nonce 1, which the node accepts after the pending one.
      const pending = new Account({ provider: recording(url, { specVersion: "0.9.0", blockIdentifier: "pre_confirmed" }).provider, address, signer: hex(key), cairoVersion: "1" })
      const second = yield* Effect.promise(() => pending.execute(call("6")))
      // A nonce already taken by a pending transaction, or one past the pending ones, is still 52.
      const bound = { max_amount: "0x0", max_price_per_unit: "0x0" }
      for (const nonce of ["0x1", "0x3"]) {
        const refused = yield* rpc("starknet_addInvokeTransaction", {
          invoke_transaction: {
            type: "INVOKE", sender_address: address, calldata: ["0x0"], version: "0x3", signature: ["0x1", "0x2"], nonce,
            resource_bounds: { l1_gas: bound, l2_gas: bound, l1_data_gas: bound }, tip: "0x0", paymaster_data: [], account_deployment_data: [],
            nonce_data_availability_mode: "L1", fee_data_availability_mode: "L1"
          }
        })
        expect(refused.error?.code).toBe(52)
      }
      const block = yield* devnet.mineBlock
      const hashes = (yield* devnet.block({ blockNumber: block.blockNumber })).transactions.map((t) => BigInt(t.transactionHash))
      expect(hashes).toEqual([BigInt(first.transaction_hash), BigInt(second.transaction_hash)])
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(10n)
      expect(BigInt(yield* Effect.promise(() => provider.getNonceForAddress(address, "latest")))).toBe(2n)
    })))
})