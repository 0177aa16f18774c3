/**
 * The embedded devnet: an in-memory Starknet that enforces the session-account rules exactly (every hash
 * computed, every signature verified), behind the `StarknetRpc` and `Paymaster` services. Block time comes from
 * Effect's `Clock`, so `TestClock` drives it in tests and real time drives it in an application.
 *
 * @since 0.1.0
 */
import * as nodeCrypto from "node:crypto"
import { Clock, Context, Duration, Effect, Layer, Redacted, type Scope } from "effect"
import { ANY_CALLER, SN_SEPOLIA, STARKNET_CONTRACTS } from "./Constants.js"
import { PaymasterError, RpcError, TransactionNotFound } from "./Errors.js"
import { encryptLegacy, encryptV1Sync } from "./internal/keystore.js"
import { parseNumeric, typedDataScalar, toHex } from "./internal/felt.js"
import { Chain, Rejected, Revert, type State, type Tx } from "./internal/chain.js"
import * as stark from "./internal/stark.js"
import {
  executeFromOutsideCalldata,
  fromTypedData,
  type OutsideCall,
  type OutsideExecutionTypedData,
  toOutsideCalls,
  toTypedData
} from "./OutsideExecution.js"
import { Paymaster } from "./Paymaster.js"
import { type Address, callSelector, type Felt, type TransactionStatus, type TxHash, type WalletData } from "./Schemas.js"
import { type Receipt, StarknetRpc } from "./StarknetRpc.js"

/**
 * Misbehaviours to test against, all off by default.
 *
 * @since 0.1.0
 * @category models
 */
export interface Faults {
  /** Delay before every request is answered. */
  readonly latency?: Duration.DurationInput
  /** The next N requests (RPC or paymaster) fail with a transient error before doing anything. */
  readonly failNext?: number
  /** The HTTP shape of those failures: 503 (default) or 429 with a `Retry-After` of `retryAfterSeconds`. */
  readonly failStatus?: 429 | 503
  readonly retryAfterSeconds?: number
  /**
   * The next N requests lose their connection (on the wire the socket is closed without an answer): `dropWhen:
   * "before"` (default) before the request is carried out; `"after"` once it is carried out, so only the answer
   * is lost (a submission went through and its hash never reached the caller).
   */
  readonly dropNext?: number
  readonly dropWhen?: "before" | "after"
  /**
   * `failNext` and `dropNext` count only requests of these methods (`starknet_call`, `starknet_getTransactionStatus`,
   * `paymaster_buildTransaction`, `paymaster_executeTransaction`, …); by default every request.
   */
  readonly faultMethods?: ReadonlyArray<string>
  /** Transactions submitted from now on stay `RECEIVED` for this many extra blocks. */
  readonly holdBlocks?: number
  /** Reads (`StarknetRpc`: calls, nonces, blocks, statuses) see the chain as it was this many blocks ago; the paymaster sees the present. */
  readonly readLagBlocks?: number
  /** The paymaster returns typed data that differs from what was asked, in this field. */
  readonly alterTypedData?: "calldata" | "to" | "selector" | "chainId" | "window" | "caller"
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DevnetOptions {
  /** Default `SN_SEPOLIA`. */
  readonly chainId?: string
  /** Default 100 milliseconds, so code that waits for blocks finishes at once. */
  readonly blockTime?: Duration.DurationInput
  /** Blocks after inclusion before `ACCEPTED_ON_L1` (default 10). */
  readonly l1AcceptAfterBlocks?: number
  /** Makes wallet owner keys reproducible. */
  readonly seed?: string
  /** The paymaster names its relayer as the caller instead of `ANY_CALLER`. */
  readonly callerMode?: "any" | "relayer"
  readonly faults?: Faults
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CreateWalletParams {
  readonly encryptKey: string | Redacted.Redacted<string>
  /** Tokens to mint to the wallet, in raw units, by symbol. */
  readonly fund?: { readonly USDC?: bigint; readonly STRK?: bigint }
  /** `legacy` (default, as existing wallets are stored) or `v1`. */
  readonly keyFormat?: "legacy" | "v1"
}

/**
 * A direct invoke transaction of the account (`__validate__` / `__execute__`). A session signature signs the
 * spec's direct-path hash; an owner signature signs the same formula with `valid_until = 0` (the devnet's stand-in
 * for the real invoke hash, which involves fees).
 *
 * @since 0.1.0
 * @category models
 */
export interface InvokeParams {
  readonly account: string
  readonly calls: ReadonlyArray<OutsideCall>
  readonly signature: ReadonlyArray<string>
  readonly nonce: bigint
}

/**
 * A block as the devnet's node reads it: by number, by hash, or by tag (`latest`, `l1_accepted`: the newest block
 * accepted on L1, `pre_confirmed`: the block being built).
 *
 * @since 0.1.0
 * @category models
 */
export type BlockId =
  | "latest"
  | "l1_accepted"
  | "pre_confirmed"
  | { readonly blockNumber: number }
  | { readonly blockHash: string }

/**
 * A closed block and its INVOKE transactions, as the devnet serves them.
 *
 * @since 0.1.0
 * @category models
 */
export interface DevnetBlock {
  readonly blockNumber: number
  readonly blockHash: Felt
  readonly parentHash: Felt
  readonly timestamp: number
  readonly status: "ACCEPTED_ON_L2" | "ACCEPTED_ON_L1"
  readonly transactions: ReadonlyArray<{
    readonly transactionHash: TxHash
    readonly senderAddress: Address
    readonly nonce: Felt
    readonly calldata: ReadonlyArray<Felt>
    readonly signature: ReadonlyArray<Felt>
  }>
}

/**
 * The devnet's control handle.
 *
 * @since 0.1.0
 * @category models
 */
export interface DevnetHandle {
  readonly chainId: Felt
  /** The address the paymaster relays from. */
  readonly relayer: Address
  readonly createWallet: (params: CreateWalletParams) => Effect.Effect<WalletData>
  readonly mint: (token: string, to: string, amount: bigint) => Effect.Effect<void>
  readonly balanceOf: (token: string, account: string) => Effect.Effect<bigint>
  /** Moves the chain's clock forward (on top of `Clock`). */
  readonly advanceTime: (by: Duration.DurationInput) => Effect.Effect<void>
  /** Closes a block now, with whatever is pending. */
  readonly mineBlock: Effect.Effect<{ readonly blockNumber: number; readonly timestamp: number }>
  readonly blockNumber: Effect.Effect<number>
  readonly blockTimestamp: Effect.Effect<number>
  /** The raw `get_session_data` of an account, `[valid_until, max_calls, calls_used, len]`. */
  readonly sessionData: (account: string, sessionPublicKey: string) => Effect.Effect<ReadonlyArray<bigint>>
  /** The allow-list stored for a session (what the chain keeps but does not expose). */
  readonly allowedEntrypoints: (account: string, sessionPublicKey: string) => Effect.Effect<ReadonlyArray<Felt>>
  /**
   * A closed block by id, as readers see it (`readLagBlocks` included); an unknown one fails with code 24. A read
   * like any other: faults apply to it, as to the wire method `method` (default `starknet_getBlockWithTxs`).
   */
  readonly block: (id: BlockId, method?: string) => Effect.Effect<DevnetBlock, RpcError>
  /** Every transaction the chain has seen, in submission order. */
  readonly transactions: Effect.Effect<ReadonlyArray<{ readonly hash: TxHash; readonly status: TransactionStatus }>>
  /** Submits the account's own invoke transaction (direct path). */
  readonly invoke: (params: InvokeParams) => Effect.Effect<TxHash, PaymasterError>
  /** Submits an `execute_from_outside_v2` as the relayer without the paymaster's simulation. */
  readonly submitOutside: (account: string, calldata: ReadonlyArray<string>) => Effect.Effect<TxHash>
  readonly setFaults: (faults: Faults) => Effect.Effect<void>
  readonly clearFaults: Effect.Effect<void>
  /** Calls since creation that the devnet answered (RPC and paymaster). */
  readonly requestCount: Effect.Effect<number>
  /** The faults in force. */
  readonly faults: Effect.Effect<Faults>
}

/**
 * The control handle of the devnet a layer provides.
 *
 * @since 0.1.0
 * @category tags
 */
export class Devnet extends Context.Tag("starknet-session-keys/Devnet")<Devnet, DevnetHandle>() {}

const felt = (v: bigint) => toHex(v) as Felt
const U128 = 2n ** 128n - 1n

const SNIP29 = {
  INVALID_ADDRESS: 150,
  TRANSACTION_EXECUTION_ERROR: 156,
  INVALID_TIME_BOUNDS: 157
} as const
const pmError = (name: keyof typeof SNIP29, revertReason?: string) =>
  new PaymasterError({
    code: SNIP29[name],
    message: `An error occurred (${name})${revertReason !== undefined ? `: ${revertReason}` : ""}`,
    ...(revertReason !== undefined ? { revertReason } : {})
  })

/**
 * Creates a devnet in the current scope: its services and its control handle.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: DevnetOptions = {}): Effect.Effect<
  { readonly handle: DevnetHandle; readonly rpc: StarknetRpc["Type"]; readonly paymaster: Paymaster["Type"] },
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const chainId = typedDataScalar(options.chainId ?? SN_SEPOLIA)
    const blockMillis = Math.max(1, Duration.toMillis(Duration.decode(options.blockTime ?? "100 millis")))
    const startMillis = yield* Clock.currentTimeMillis
    const chain = new Chain(chainId, Math.floor(startMillis / 1000), options.l1AcceptAfterBlocks ?? 10)
    for (const { contractAddress, decimals } of Object.values(STARKNET_CONTRACTS)) {
      chain.deployToken(BigInt(contractAddress), decimals === 6 ? "USDC" : "STRK", decimals)
    }
    const relayer = BigInt("0x" + nodeCrypto.createHash("sha256").update("devnet-relayer").digest("hex")) >> 6n
    let faults: Faults = options.faults ?? {}
    let offsetMillis = 0
    let lastBlockMillis = startMillis
    let requests = 0
    let walletCounter = 0
    // The state and timestamp of each of the last blocks, kept only while reads lag; and the first block the
    // lagging view may show (the one closed when the lag began).
    const history = new Map<number, { readonly state: State; readonly timestamp: number }>()
    let lagFrom = 0

    /** Closes every block whose interval has passed by `Clock` (plus `advanceTime`). */
    const catchUp = Effect.gen(function*() {
      const now = (yield* Clock.currentTimeMillis) + offsetMillis
      const due = Math.floor((now - lastBlockMillis) / blockMillis)
      if (due <= 0) return
      const lag = faults.readLagBlocks ?? 0
      // Empty blocks need no work: with nothing pending, jump to the last one due.
      let closed = 0
      while (closed < due) {
        const from = chain.latest.number
        const step = chain.pending.length === 0 ? due - closed : 1
        closed += step
        lastBlockMillis += step * blockMillis
        const endMillis = lastBlockMillis
        chain.closeBlock(from + step, Math.floor(endMillis / 1000), (n) => Math.floor((endMillis - (from + step - n) * blockMillis) / 1000))
        if (lag > 0) {
          // The blocks of one step share one state: all but the last are empty.
          const state = chain.snapshotState()
          for (let n = Math.max(from + 1, from + step - lag); n <= from + step; n++) {
            history.set(n, { state, timestamp: Math.floor((lastBlockMillis - (from + step - n) * blockMillis) / 1000) })
          }
          for (const n of history.keys()) if (n < chain.latest.number - lag) history.delete(n)
        }
      }
    })

    const nowSeconds = Effect.map(Clock.currentTimeMillis, (ms) => BigInt(Math.floor((ms + offsetMillis) / 1000)))

    /**
     * Every request: latency, injected failures, then the chain catches up with the clock. `fail(code)` makes the
     * request's transient error: an HTTP status, or 0 for a dropped connection.
     */
    const request = <A, E>(
      method: string,
      fail: (code: number) => E,
      body: Effect.Effect<A, E>
    ): Effect.Effect<A, E> =>
      Effect.gen(function*() {
        if (faults.latency !== undefined) yield* Effect.sleep(faults.latency)
        const targeted = faults.faultMethods === undefined || faults.faultMethods.includes(method)
        if (targeted && (faults.failNext ?? 0) > 0) {
          faults = { ...faults, failNext: faults.failNext! - 1 }
          return yield* Effect.fail(fail(faults.failStatus ?? 503))
        }
        const drop = targeted && (faults.dropNext ?? 0) > 0
        if (drop) faults = { ...faults, dropNext: faults.dropNext! - 1 }
        if (drop && faults.dropWhen !== "after") return yield* Effect.fail(fail(0))
        requests++
        yield* catchUp
        if (!drop) return yield* body
        // Carried out, whatever its outcome; the answer is lost with the connection.
        yield* Effect.exit(body)
        return yield* Effect.fail(fail(0))
      })
    const faultMessage = (code: number) =>
      code === 0 ? "connection dropped (injected fault)" : code === 429 ? "Too Many Requests (injected fault)" : "Service Unavailable (injected fault)"
    const rpcRequest = <A, E>(method: string, body: Effect.Effect<A, E>) =>
      request<A, E | RpcError>(method, (code) => new RpcError({ method, code, message: faultMessage(code), transient: true }), body)
    const pmRequest = <A, E>(method: string, body: Effect.Effect<A, E>) =>
      request<A, E | PaymasterError>(method, (code) => new PaymasterError({ code, message: faultMessage(code), transient: true }), body)

    /** The block readers see, `readLagBlocks` behind (never before the lag began). */
    const readBlock = () => {
      const lag = faults.readLagBlocks ?? 0
      return lag === 0 ? chain.latest.number : Math.max(lagFrom, chain.latest.number - lag)
    }
    /** The state readers see: the present, or a lagging block's. */
    const lagged = () => {
      const block = readBlock()
      return block === chain.latest.number ? undefined : history.get(block)
    }

    const enqueue = (payload: Tx["payload"], outsideNonce?: bigint) =>
      felt(chain.submit(payload, chain.latest.number + (faults.holdBlocks ?? 0), outsideNonce).hash) as TxHash

    const findTx = (txHash: string) =>
      Effect.suspend(() => {
        let key: bigint
        try {
          key = BigInt(txHash)
        } catch {
          return Effect.fail(new TransactionNotFound({ txHash }))
        }
        const tx = chain.txs.get(key)
        return tx === undefined ? Effect.fail(new TransactionNotFound({ txHash })) : Effect.succeed(tx)
      })

    const statusOf = (tx: Tx): TransactionStatus => {
      const finalityStatus = chain.finalityAt(tx, readBlock())
      if (finalityStatus === "RECEIVED") return { finalityStatus }
      if (finalityStatus === "REJECTED") return { finalityStatus, revertReason: tx.rejected! }
      return {
        finalityStatus,
        executionStatus: tx.execution!,
        ...(tx.revertReason !== undefined ? { revertReason: tx.revertReason } : {})
      }
    }

    /** The closed block `id` names, as readers see it. */
    const blockAt = (method: string, id: BlockId): Effect.Effect<DevnetBlock, RpcError> =>
      Effect.suspend(() => {
        const visible = readBlock()
        const l1 = Math.max(0, visible - chain.l1AfterBlocks)
        let n: number | undefined
        if (id === "latest" || id === "pre_confirmed") n = visible
        else if (id === "l1_accepted") n = l1
        else if ("blockNumber" in id) n = id.blockNumber
        else n = parseNumeric(id.blockHash) === undefined ? undefined : chain.blocks.numberOf(BigInt(id.blockHash))
        const block = n !== undefined && n <= visible ? chain.blocks.get(n) : undefined
        if (block === undefined) return Effect.fail(new RpcError({ method, code: 24, message: "Block not found", transient: false }))
        return Effect.succeed({
          blockNumber: block.number,
          blockHash: felt(block.hash),
          parentHash: felt(block.parentHash),
          timestamp: block.timestamp,
          status: block.number <= l1 ? "ACCEPTED_ON_L1" : "ACCEPTED_ON_L2",
          transactions: block.transactions.map((tx) => ({
            transactionHash: felt(tx.hash) as TxHash,
            senderAddress: felt(tx.sender) as Address,
            nonce: felt(tx.nonce),
            calldata: tx.calldata.map(felt),
            signature: tx.payload.kind === "invoke" ? tx.payload.signature.map(felt) : []
          }))
        })
      })

    const view = (contract: bigint, selector: bigint, calldata: ReadonlyArray<bigint>) => {
      const past = lagged()
      return past !== undefined
        ? chain.viewAt(past.state, BigInt(past.timestamp), () => chain.call(0n, contract, selector, calldata))
        : chain.dryRun(BigInt(chain.latest.timestamp), () => chain.call(0n, contract, selector, calldata))
    }

    const rpc: StarknetRpc["Type"] = {
      chainId: rpcRequest("starknet_chainId", Effect.succeed(felt(chainId))),
      latestBlock: rpcRequest(
        "starknet_getBlockWithTxHashes",
        Effect.sync(() => ({ blockNumber: readBlock(), timestamp: lagged()?.timestamp ?? chain.latest.timestamp }))
      ),
      call: (req) =>
        rpcRequest(
          "starknet_call",
          Effect.suspend(() => {
            const contract = BigInt(req.contractAddress)
            if (!(lagged()?.state ?? chain.contracts).has(contract)) {
              return Effect.fail(new RpcError({ method: "starknet_call", code: 20, message: "Contract not found", transient: false }))
            }
            try {
              return Effect.succeed(view(contract, BigInt(callSelector(req)), req.calldata.map(BigInt)).map(felt))
            } catch (error) {
              if (!(error instanceof Revert)) throw error
              return Effect.fail(new RpcError({ method: "starknet_call", code: 40, message: error.reason, transient: false }))
            }
          })
        ),
      getTransactionStatus: (txHash) =>
        rpcRequest("starknet_getTransactionStatus", Effect.map(findTx(txHash), statusOf)),
      getTransactionReceipt: (txHash) =>
        rpcRequest(
          "starknet_getTransactionReceipt",
          Effect.flatMap(findTx(txHash), (tx): Effect.Effect<Receipt, TransactionNotFound> => {
            const status = statusOf(tx)
            if (status.executionStatus === undefined) return Effect.fail(new TransactionNotFound({ txHash }))
            return Effect.succeed({
              transactionHash: felt(tx.hash) as TxHash,
              finalityStatus: status.finalityStatus,
              executionStatus: status.executionStatus,
              ...(tx.revertReason !== undefined ? { revertReason: tx.revertReason } : {}),
              events: tx.events.map((e) => ({ fromAddress: felt(e.fromAddress), keys: e.keys.map(felt), data: e.data.map(felt) })),
              ...(tx.blockNumber !== undefined ? { blockNumber: tx.blockNumber } : {})
            })
          })
        ),
      getBlockWithTxs: (blockNumber) =>
        rpcRequest(
          "starknet_getBlockWithTxs",
          Effect.map(blockAt("starknet_getBlockWithTxs", { blockNumber }), (block) => ({
            blockNumber: block.blockNumber,
            timestamp: block.timestamp,
            transactions: block.transactions.map((tx) => ({
              transactionHash: tx.transactionHash,
              type: "INVOKE",
              senderAddress: tx.senderAddress,
              calldata: tx.calldata
            }))
          }))
        ),
      getNonce: (address) =>
        rpcRequest(
          "starknet_getNonce",
          Effect.suspend(() => {
            const contract = (lagged()?.state ?? chain.contracts).get(BigInt(address))
            return contract === undefined
              ? Effect.fail(new RpcError({ method: "starknet_getNonce", code: 20, message: "Contract not found", transient: false }))
              : Effect.succeed(felt(contract.kind === "account" ? contract.nonce : 0n))
          })
        )
    }

    const alter = (td: OutsideExecutionTypedData): OutsideExecutionTypedData => {
      const mode = faults.alterTypedData
      if (mode === undefined) return td
      const message = td.message
      const firstCall = message.Calls[0]
      const calls = (f: (c: NonNullable<typeof firstCall>) => NonNullable<typeof firstCall>) =>
        [firstCall ? f(firstCall) : firstCall!, ...message.Calls.slice(1)]
      switch (mode) {
        case "calldata":
          return { ...td, message: { ...message, Calls: calls((c) => ({ ...c, Calldata: c.Calldata.map((d, i) => (i === 0 ? "0xbad" : d)) })) } }
        case "to":
          return { ...td, message: { ...message, Calls: calls((c) => ({ ...c, To: "0xbad" })) } }
        case "selector":
          return { ...td, message: { ...message, Calls: calls((c) => ({ ...c, Selector: callSelector({ entrypoint: "approve" }) })) } }
        case "chainId":
          return { ...td, domain: { ...td.domain, chainId: "SN_MAIN" } }
        case "window":
          return { ...td, message: { ...message, "Execute Before": toHex(typedDataScalar(message["Execute Before"]) + 86_400n) } }
        case "caller":
          return { ...td, message: { ...message, Caller: "0xbad" } }
      }
    }

    const paymaster: Paymaster["Type"] = {
      isAvailable: pmRequest("paymaster_isAvailable", Effect.succeed(true)),
      buildTransaction: (req) =>
        pmRequest(
          "paymaster_buildTransaction",
          Effect.gen(function*() {
            if (chain.account(BigInt(req.userAddress)) === undefined) return yield* pmError("INVALID_ADDRESS")
            const now = yield* nowSeconds
            const after = req.timeBounds !== undefined ? BigInt(req.timeBounds.executeAfter) : now > 60n ? now - 60n : 0n
            const before = req.timeBounds !== undefined ? BigInt(req.timeBounds.executeBefore) : now + 3600n
            if (after < 0n || before <= after || before > U128) return yield* pmError("INVALID_TIME_BOUNDS")
            const nonce = BigInt("0x" + nodeCrypto.randomBytes(31).toString("hex"))
            const typedData = toTypedData(toHex(chainId), {
              caller: (options.callerMode === "relayer" ? felt(relayer) : ANY_CALLER) as Felt,
              nonce: felt(nonce),
              executeAfter: after,
              executeBefore: before,
              calls: toOutsideCalls(req.calls)
            })
            return { typedData: alter(typedData) }
          })
        ),
      executeTransaction: (req) =>
        pmRequest(
          "paymaster_executeTransaction",
          Effect.gen(function*() {
            const account = BigInt(req.userAddress)
            if (chain.account(account) === undefined) return yield* pmError("INVALID_ADDRESS")
            const { outsideExecution } = fromTypedData(req.typedData)
            const calldata = executeFromOutsideCalldata(outsideExecution, req.signature)
            const payload = { kind: "outside" as const, relayer, account, calldata }
            // The relayer knows what it has already sent: a nonce it submitted and that is still pending is taken.
            const nonce = BigInt(outsideExecution.nonce)
            if (chain.pending.some((tx) => tx.payload.kind === "outside" && tx.payload.account === account && tx.outsideNonce === nonce)) {
              return yield* pmError("TRANSACTION_EXECUTION_ERROR", "SRC9: duplicated nonce")
            }
            // Simulate first, like real paymasters: a refusal is an error and nothing is sent.
            const now = yield* nowSeconds
            const at = now > BigInt(chain.latest.timestamp) ? now : BigInt(chain.latest.timestamp)
            try {
              chain.dryRun(at, () => chain.apply(payload, at))
            } catch (error) {
              if (!(error instanceof Revert)) throw error
              return yield* pmError("TRANSACTION_EXECUTION_ERROR", error.reason)
            }
            return { transactionHash: enqueue(payload, nonce) }
          })
        )
    }

    const walletKey = () => {
      if (options.seed === undefined) {
        for (;;) {
          const bytes = nodeCrypto.randomBytes(32)
          bytes[0] = bytes[0]! & 0x07
          const value = BigInt("0x" + bytes.toString("hex"))
          if (value > 0n && value < stark.CURVE_ORDER) return Uint8Array.from(bytes)
        }
      }
      const digest = nodeCrypto.createHash("sha256").update(`${options.seed}:wallet:${walletCounter++}`).digest()
      const value = (BigInt("0x" + digest.toString("hex")) % (stark.CURVE_ORDER - 1n)) + 1n
      return Uint8Array.from(Buffer.from(value.toString(16).padStart(64, "0"), "hex"))
    }

    const control = <A>(f: () => A) => Effect.zipRight(catchUp, Effect.sync(f))

    const handle: DevnetHandle = {
      chainId: felt(chainId),
      relayer: felt(relayer) as Address,
      createWallet: (params) =>
        control(() => {
          const pin = Redacted.isRedacted(params.encryptKey) ? Redacted.value(params.encryptKey) : params.encryptKey
          const key = walletKey()
          try {
            const publicKey = stark.publicKeyOf(key)
            // With a seed, addresses are reproducible too.
            const salt = options.seed === undefined ? BigInt("0x" + nodeCrypto.randomBytes(16).toString("hex")) : publicKey
            const address = chain.deployAccount(publicKey, salt)
            for (const [symbol, amount] of Object.entries(params.fund ?? {})) {
              const token = STARKNET_CONTRACTS[symbol as keyof typeof STARKNET_CONTRACTS]
              if (token !== undefined && amount !== undefined && amount > 0n) chain.mint(BigInt(token.contractAddress), address, amount)
            }
            const encryptedPrivateKey = params.keyFormat === "v1"
              ? encryptV1Sync(key, felt(publicKey), pin)
              : encryptLegacy("0x" + Buffer.from(key).toString("hex"), pin)
            return { publicKey: felt(address) as Address, encryptedPrivateKey, walletType: "CHIPI" }
          } finally {
            key.fill(0)
          }
        }),
      mint: (token, to, amount) => control(() => chain.mint(BigInt(token), BigInt(to), amount)),
      balanceOf: (token, account) =>
        control(() => {
          const [low, high] = chain.dryRun(BigInt(chain.latest.timestamp), () =>
            chain.call(0n, BigInt(token), BigInt(callSelector({ entrypoint: "balance_of" })), [BigInt(account)]))
          return (high! << 128n) | low!
        }),
      advanceTime: (by) => Effect.zipRight(Effect.sync(() => (offsetMillis += Duration.toMillis(Duration.decode(by)))), catchUp),
      mineBlock: Effect.gen(function*() {
        yield* catchUp
        const now = (yield* Clock.currentTimeMillis) + offsetMillis
        chain.closeBlock(chain.latest.number + 1, Math.max(chain.latest.timestamp, Math.floor(now / 1000)))
        return { blockNumber: chain.latest.number, timestamp: chain.latest.timestamp }
      }),
      blockNumber: control(() => chain.latest.number),
      blockTimestamp: control(() => chain.latest.timestamp),
      sessionData: (account, key) =>
        control(() => {
          const s = chain.account(BigInt(account))?.sessions.get(BigInt(key))
          return s === undefined ? [0n, 0n, 0n, 0n] : [s.validUntil, s.maxCalls, s.callsUsed, BigInt(s.allowed.length)]
        }),
      allowedEntrypoints: (account, key) =>
        control(() => (chain.account(BigInt(account))?.sessions.get(BigInt(key))?.allowed ?? []).map(felt)),
      block: (id, method = "starknet_getBlockWithTxs") => rpcRequest(method, blockAt(method, id)),
      transactions: control(() => [...chain.txs.values()].map((tx) => ({ hash: felt(tx.hash) as TxHash, status: statusOf(tx) }))),
      invoke: (params) =>
        Effect.gen(function*() {
          yield* catchUp
          const payload = {
            kind: "invoke" as const,
            account: BigInt(params.account),
            calls: params.calls,
            signature: params.signature.map(BigInt),
            nonce: params.nonce
          }
          // Validation runs at submission: a transaction that fails it is refused, never included. One that only
          // reverts in `__execute__` is accepted and reverts in its block (its nonce and session count stand).
          const now = yield* nowSeconds
          try {
            chain.dryRun(now, () => chain.apply(payload, now))
          } catch (error) {
            if (error instanceof Rejected) {
              return yield* new PaymasterError({ code: 55, message: `Account validation failed (VALIDATION_FAILURE): ${error.reason}`, revertReason: error.reason })
            }
            if (!(error instanceof Revert)) throw error
          }
          return enqueue(payload)
        }),
      submitOutside: (account, calldata) =>
        control(() => enqueue({ kind: "outside", relayer, account: BigInt(account), calldata })),
      setFaults: (next) =>
        Effect.zipRight(
          catchUp,
          Effect.sync(() => {
            if ((next.readLagBlocks ?? 0) > 0 && (faults.readLagBlocks ?? 0) === 0) {
              // The lag begins now: readers see this block for a while, then trail by k blocks.
              history.clear()
              history.set(chain.latest.number, { state: chain.snapshotState(), timestamp: chain.latest.timestamp })
              lagFrom = chain.latest.number
            }
            faults = { ...faults, ...next }
          })
        ),
      clearFaults: Effect.sync(() => {
        faults = {}
        history.clear()
      }),
      requestCount: Effect.sync(() => requests),
      faults: Effect.sync(() => faults)
    }
    return { handle, rpc, paymaster }
  })

/**
 * The devnet as a layer: `StarknetRpc`, `Paymaster` and the `Devnet` control handle, created in the layer's scope.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: DevnetOptions = {}): Layer.Layer<Devnet | StarknetRpc | Paymaster> =>
  Layer.scopedContext(
    Effect.map(make(options), ({ handle, paymaster, rpc }) =>
      Context.make(Devnet, handle).pipe(Context.add(StarknetRpc, rpc), Context.add(Paymaster, paymaster)))
  )


/**
 * Serves the devnet of the current context over HTTP on loopback (by default) until the scope closes: its
 * `starknet_*`, `paymaster_*` and `devnet_*` methods as JSON-RPC, batches included. Answers the URL.
 *
 * @since 0.1.0
 * @category serving
 */
export { serve } from "./internal/wire.js"
