/**
 * The devnet as the network behaves (shared spec, "The real network in 2026", items 1 to 5): the paymaster
 * simulates on the pre-confirmed state, as AVNU's paymaster estimates at `pre_confirmed` (avnu-labs/paymaster,
 * `paymaster-execution`), in every profile; the `network` profile adds `latest` lagging the closed block, a
 * paymaster-sent hash unknown to the node until it is pre-confirmed, AVNU's duplicate filter, its error shapes
 * (test/fixtures/avnu-paymaster-errors.ts) and its windows.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, TestClock } from "effect"
import { Devnet, OutsideExecution, Paymaster, Schemas, StarknetRpc } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import { executionErrorData } from "../../src/devnet/server/executionError.js"
import { AVNU_ERRORS } from "../fixtures/avnu-paymaster-errors.js"
import * as F from "../fixtures/avnu-paymaster-errors.js"
import { call, layer, sessionKey, signOutside, start, status, submit, transfer, USDC, wallet } from "../helpers/chain.js"

const network = (options: Devnet.DevnetOptions = {}) => layer({ profile: "network", blockTime: "2 seconds", ...options })

/** Sends signed outside-execution typed data to the paymaster as it is: the error, or the hash. */
const execute = (account: string, typedData: OutsideExecution.OutsideExecutionTypedData, signature: ReadonlyArray<Schemas.Felt>) =>
  Effect.flatMap(Paymaster.Paymaster, (pm) =>
    Effect.either(pm.executeTransaction({ userAddress: account as Schemas.Address, typedData, signature })))

const BOB = "0xb0b"

describe("the paymaster simulates at pre_confirmed", () => {
  it.effect("an execute right after a registration that is only pre-confirmed goes through in the same block", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const w = yield* wallet
      const session = sessionKey(0x5e55n)
      const now = BigInt(yield* devnet.blockTimestamp)
      const reg = yield* submit(w.address, [call(w.address, "add_or_update_session_key", [session.publicKey, now + 3600n, 5n, 0n])], w.owner)
      expect(reg.ok).toBe(true)
      // The guide's wait: until SUCCEEDED, which RPC 0.9 answers while the registration is in the block being built.
      expect(yield* status(reg.txHash!)).toEqual({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" })
      const block = yield* devnet.blockNumber
      const exec = yield* submit(w.address, [transfer(BOB, 7n)], { key: session.key, session: { validUntil: now + 3600n } })
      expect(exec).toMatchObject({ ok: true })
      expect(yield* status(exec.txHash!)).toEqual({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" })
      expect(yield* devnet.blockNumber).toBe(block)
      yield* TestClock.adjust("10 seconds")
      expect(yield* status(exec.txHash!)).toMatchObject({ finalityStatus: "ACCEPTED_ON_L2", executionStatus: "SUCCEEDED" })
      expect(yield* devnet.balanceOf(USDC, BOB)).toBe(7n)
    }).pipe(Effect.provide(layer({ blockTime: "10 seconds" }))))
})

describe("the network profile", () => {
  it.effect("AVNU's duplicate filter: the same (user, nonce) within 30 s is 'Tx already sent', even after a refusal; then it is looked at again", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const w = yield* wallet
      const session = sessionKey(0x5e56n)
      const now = BigInt(yield* devnet.blockTimestamp)
      // Signed by a session not registered yet: the first attempt is refused by the estimate.
      const { oe, signature } = yield* signOutside(w.address, [transfer("0xb0b", 1n)], { key: session.key, session: { validUntil: now + 3600n } }, { before: now + 600n })
      const typedData = OutsideExecution.toTypedData(devnet.chainId, oe)
      const first = yield* execute(w.address, typedData, signature)
      expect(Either.isLeft(first) && first.left).toMatchObject({ code: 156, revertReason: "Session: valid_until exceeded" })
      const again = yield* execute(w.address, typedData, signature)
      expect(Either.isLeft(again) && again.left).toMatchObject({
        code: 156,
        message: "An error occurred (TRANSACTION_EXECUTION_ERROR): execution error Tx already sent"
      })
      expect(Either.isLeft(again) && again.left.revertReason).toBeUndefined()
      // Registered meanwhile, the same payload is still refused within the window, and goes through after it.
      const reg = yield* submit(w.address, [call(w.address, "add_or_update_session_key", [session.publicKey, now + 3600n, 5n, 0n])], w.owner)
      expect(reg.ok).toBe(true)
      yield* TestClock.adjust("29 seconds")
      expect(Either.isLeft(yield* execute(w.address, typedData, signature))).toBe(true)
      yield* TestClock.adjust("1 second")
      const later = yield* execute(w.address, typedData, signature)
      expect(Either.isRight(later)).toBe(true)
    }).pipe(Effect.provide(network())))

  it.effect("a lost answer: the re-send within 30 s is 'Tx already sent', and the transaction went out once", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const w = yield* wallet
      const { oe, signature } = yield* signOutside(w.address, [transfer("0xb0b", 3n)], w.owner)
      const typedData = OutsideExecution.toTypedData(devnet.chainId, oe)
      yield* devnet.setFaults({ dropNext: 1, dropWhen: "after", faultMethods: ["paymaster_executeTransaction"] })
      expect(Either.isLeft(yield* execute(w.address, typedData, signature))).toBe(true)
      const again = yield* execute(w.address, typedData, signature)
      expect(Either.isLeft(again) && again.left.message).toContain("Tx already sent")
      yield* TestClock.adjust("4 seconds")
      expect(yield* devnet.balanceOf(USDC, "0xb0b")).toBe(3n)
      expect((yield* devnet.transactions).length).toBe(1)
    }).pipe(Effect.provide(network())))

  it.effect("latest lags the closed block by latestLag; a transaction in a block not served yet is PRE_CONFIRMED", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const rpc = yield* StarknetRpc.StarknetRpc
      const w = yield* wallet
      yield* TestClock.adjust("4 seconds")
      const sent = yield* submit(w.address, [transfer("0xb0b", 5n)], w.owner)
      expect(sent.ok).toBe(true)
      // Unknown to the node until pre-confirmed (submissionHidden, 0.5 s).
      expect(Either.isLeft(yield* Effect.either(status(sent.txHash!)))).toBe(true)
      yield* TestClock.adjust("500 millis")
      expect(yield* status(sent.txHash!)).toEqual({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" })
      // Its block closes; latest is still the one before for 1.5 s.
      const open = yield* devnet.blockNumber
      while ((yield* devnet.blockNumber) === open) yield* TestClock.adjust("100 millis")
      const closed = yield* devnet.blockNumber
      expect((yield* rpc.latestBlock).blockNumber).toBe(closed - 1)
      expect(yield* status(sent.txHash!)).toEqual({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" })
      const receipt = yield* rpc.getTransactionReceipt(sent.txHash!)
      expect(receipt).toMatchObject({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" })
      yield* TestClock.adjust("1300 millis")
      expect((yield* rpc.latestBlock).blockNumber).toBe(closed - 1)
      yield* TestClock.adjust("200 millis")
      expect((yield* rpc.latestBlock).blockNumber).toBe(closed)
      expect(yield* status(sent.txHash!)).toEqual({ finalityStatus: "ACCEPTED_ON_L2", executionStatus: "SUCCEEDED" })
    }).pipe(Effect.provide(network())))

  it.effect("candidateFor: CANDIDATE, with no execution status, between unknown and PRE_CONFIRMED", () =>
    Effect.gen(function*() {
      yield* start
      const w = yield* wallet
      const sent = yield* submit(w.address, [transfer("0xb0b", 5n)], w.owner)
      expect(Either.isLeft(yield* Effect.either(status(sent.txHash!)))).toBe(true)
      yield* TestClock.adjust("500 millis")
      expect(yield* status(sent.txHash!)).toEqual({ finalityStatus: "CANDIDATE" })
      yield* TestClock.adjust("250 millis")
      expect(yield* status(sent.txHash!)).toMatchObject({ finalityStatus: "PRE_CONFIRMED", executionStatus: "SUCCEEDED" })
    }).pipe(Effect.provide(network({ candidateFor: "250 millis", blockTime: "1 hour" }))))

  it.effect("two executes for a session's last call within the pre-confirmation delay both pass the estimate; the second reverts on chain", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const w = yield* wallet
      const session = sessionKey(0x5e57n)
      const now = BigInt(yield* devnet.blockTimestamp)
      const reg = yield* submit(w.address, [call(w.address, "add_or_update_session_key", [session.publicKey, now + 3600n, 1n, 0n])], w.owner)
      expect(reg.ok).toBe(true)
      yield* TestClock.adjust("500 millis")
      const signer = { key: session.key, session: { validUntil: now + 3600n } }
      const a = yield* submit(w.address, [transfer("0xb0b", 1n)], signer)
      const b = yield* submit(w.address, [transfer("0xb0b", 2n)], signer)
      expect([a.ok, b.ok]).toEqual([true, true])
      yield* TestClock.adjust("4 seconds")
      expect(yield* status(b.txHash!)).toMatchObject({ executionStatus: "REVERTED", revertReason: "Session: unauthorized selector" })
      expect(yield* devnet.balanceOf(USDC, "0xb0b")).toBe(1n)
    }).pipe(Effect.provide(network())))

  it.effect("staleEstimateNext (any profile): an accepted payment reverts on chain when the state moved between estimate and send", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const w = yield* wallet
      const session = sessionKey(0x5e58n)
      const now = BigInt(yield* devnet.blockTimestamp)
      yield* submit(w.address, [call(w.address, "add_or_update_session_key", [session.publicKey, now + 3600n, 1n, 0n])], w.owner)
      yield* TestClock.adjust("1 second")
      const signer = { key: session.key, session: { validUntil: now + 3600n } }
      const a = yield* submit(w.address, [transfer("0xb0b", 1n)], signer)
      expect((yield* submit(w.address, [transfer("0xb0b", 2n)], signer)).ok).toBe(false)
      yield* devnet.setFaults({ staleEstimateNext: 1 })
      const b = yield* submit(w.address, [transfer("0xb0b", 2n)], signer)
      expect([a.ok, b.ok]).toEqual([true, true])
      yield* TestClock.adjust("1 second")
      expect(yield* status(b.txHash!)).toMatchObject({ executionStatus: "REVERTED", revertReason: "Session: unauthorized selector" })
    }).pipe(Effect.provide(layer())))

  it.effect("windows from the server's clock: execute_after 1, execute_before now + 3600 s (AVNU's default)", () =>
    Effect.gen(function*() {
      yield* start
      const devnet = yield* Devnet.Devnet
      const pm = yield* Paymaster.Paymaster
      const w = yield* wallet
      yield* devnet.advanceTime("10 minutes")
      const built = yield* pm.buildTransaction({ userAddress: w.address as Schemas.Address, calls: [{ contractAddress: USDC as Schemas.Address, entrypoint: "transfer", calldata: ["0xb0b", "0x1", "0x0"] as Array<Schemas.Felt> }] })
      const { outsideExecution } = OutsideExecution.fromTypedData(built.typedData)
      const clock = BigInt(Math.floor(Date.UTC(2026, 0, 1) / 1000)) + 600n
      expect([BigInt(outsideExecution.executeAfter), BigInt(outsideExecution.executeBefore)]).toEqual([1n, clock + 3600n])
      // Invalid time bounds are 156 with AVNU's message, not 157.
      const refused = yield* Effect.flip(pm.buildTransaction({
        userAddress: w.address as Schemas.Address,
        calls: [{ contractAddress: USDC as Schemas.Address, entrypoint: "transfer", calldata: ["0xb0b", "0x1", "0x0"] as Array<Schemas.Felt> }],
        timeBounds: { executeAfter: 10, executeBefore: 5 }
      }))
      expect(refused).toMatchObject({ code: 156, message: "An error occurred (TRANSACTION_EXECUTION_ERROR): invalid time bounds" })
    }).pipe(Effect.provide(network())))
})

describe("the network profile on the wire: errors as AVNU answers them (test/fixtures/avnu-paymaster-errors.ts)", () => {
  const served = (options: DevnetServer.ServeOptions = {}) =>
    Effect.gen(function*() {
      const server = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0, ...options })
      return { ...server, devnet: yield* Devnet.Devnet }
    }).pipe(Effect.provide(Devnet.layer({ profile: "network", blockTime: "2 seconds" })))
  const rpc = (url: string, method: string, params: unknown, headers: Record<string, string> = {}) =>
    Effect.promise(() =>
      fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) })
        .then((r) => r.json() as Promise<any>)
    )

  it("the fixtures' Debug strings are the devnet's for the same frames", () => {
    for (const fixture of AVNU_ERRORS.filter((f) => f.reason !== undefined)) {
      expect(executionErrorData("avnu", fixture.reason!, { relayer: BigInt(F.RELAYER), account: BigInt(F.ACCOUNT) })).toEqual(fixture.error.data)
    }
  })

  it.live("a simulated revert, an invalid signature, invalid time bounds, a duplicate and a bad API key", () =>
    Effect.gen(function*() {
      const { devnet, url } = yield* served({ paymasterApiKey: "key" })
      const key = { "x-paymaster-api-key": "key" }
      const w = yield* devnet.createWallet({ encryptKey: "1234" })
      const calls = [{ to: USDC, selector: Schemas.selectorOf("transfer"), calldata: ["0x1", "0x1", "0x0"] }]
      const built = yield* rpc(url, "paymaster_buildTransaction", { transaction: { type: "invoke", invoke: { user_address: w.publicKey, calls } }, parameters: { version: "0x1", fee_mode: { mode: "sponsored" } } }, key)
      const typed_data = built.result.typed_data
      const send = (signature: ReadonlyArray<string>) =>
        rpc(url, "paymaster_executeTransaction", { transaction: { type: "invoke", invoke: { user_address: w.publicKey, typed_data, signature } }, parameters: { version: "0x1", fee_mode: { mode: "sponsored" } } }, key)
      const reverted = (yield* send(["0x1", "0x2", "0x3", "0x0"])).error
      const expected = AVNU_ERRORS[0]!.error.data as { execution_error: string }
      // The fixture's shape, addresses aside; then the devnet's own relayer and the user's account in it.
      const masked = (text: string) => text.replace(/0x[0-9a-f]+ \(/g, "F (").replace(/0x[0-9a-f]+/g, "0x?")
      expect(reverted.code).toBe(156)
      expect(reverted.message).toBe("An error occurred (TRANSACTION_EXECUTION_ERROR)")
      expect(typeof reverted.data.execution_error).toBe("string")
      expect(masked(reverted.data.execution_error)).toBe(masked(expected.execution_error))
      expect(reverted.data.execution_error).toContain(`contract_address: ${BigInt(devnet.relayer).toString(16).replace(/^/, "0x")}`)
      expect(reverted.data.execution_error).toContain(`contract_address: 0x${BigInt(w.publicKey).toString(16)}`)
      expect(reverted.data.execution_error).toContain("('Session: unauthorized selector')")
      // The same payload again: the duplicate filter, before anything else.
      expect((yield* send(["0x1", "0x2", "0x3", "0x0"])).error).toEqual(AVNU_ERRORS.find((f) => f.name.startsWith("duplicate"))!.error)
      // An owner signature that does not verify: 156, the account's reason inside.
      const badOwner = (yield* rpc(url, "paymaster_executeTransaction", {
        transaction: { type: "invoke", invoke: { user_address: w.publicKey, typed_data: { ...typed_data, message: { ...typed_data.message, Nonce: "0x99" } }, signature: ["0x1", "0x2"] } },
        parameters: { version: "0x1", fee_mode: { mode: "sponsored" } }
      }, key)).error
      expect(badOwner.code).toBe(156)
      expect(badOwner.data.execution_error).toMatch(/^execution error Execution error Nested\(InnerContractExecutionError \{ contract_address: 0x/)
      const bounds = yield* rpc(url, "paymaster_buildTransaction", {
        transaction: { type: "invoke", invoke: { user_address: w.publicKey, calls } },
        parameters: { version: "0x1", fee_mode: { mode: "sponsored" }, time_bounds: { execute_after: 10, execute_before: 5 } }
      }, key)
      expect(bounds.error).toEqual(AVNU_ERRORS.find((f) => f.name.startsWith("invalid time bounds"))!.error)
      const unauthorized = yield* rpc(url, "paymaster_isAvailable", {}, { "x-paymaster-api-key": "wrong" })
      expect(unauthorized.error).toEqual(AVNU_ERRORS.find((f) => f.name === "invalid API key")!.error)
    }).pipe(Effect.scoped))
})
