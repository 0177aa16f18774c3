/**
 * The `starknet_*` reads the served devnet answers from its node directly (blocks by any `block_id`), in RPC 0.9
 * shapes (`@starknet-io/starknet-types-09`, `api/components`).
 */
import { Effect, Schema } from "effect"
import { pedersen } from "@scure/starknet"
import { toHex, U128_MAX } from "../../internal/crypto/felt.js"
import type { Account } from "../account.js"
import { SEQUENCER_ADDRESS, type State } from "../chain.js"
import { Revert } from "../revert.js"
import type { Token } from "../token.js"
import { type ChainEvent, feeOf, type Gas, GAS_PRICES, type Tx } from "../transactions.js"
import { selectorOfName } from "../../internal/crypto/stark.js"
import { ACCOUNT_CLASS, classOf, contractClass, TOKEN_CLASS } from "../abi.js"
import { type Node, txView } from "../node.js"
import type { BlockId as DevnetBlockId, DevnetBlock, ResourceBound } from "../types.js"
import { Address, Felt } from "../../Schemas.js"
import { method, type Methods, WireError } from "./jsonrpc.js"

/** `BLOCK_ID` of spec 0.9: a tag, `{ block_number }` or `{ block_hash }` (`pending` is gone: -32602). */
export const BlockId = Schema.Union(
  Schema.Literal("latest", "l1_accepted", "pre_confirmed"),
  Schema.Struct({ block_number: Schema.Int.pipe(Schema.nonNegative()) }),
  Schema.Struct({ block_hash: Felt })
)
const blockId = Schema.optionalWith(BlockId, { default: () => "latest" as const })

export const toBlockId = (id: typeof BlockId.Type): DevnetBlockId =>
  typeof id === "string"
    ? id
    : "block_number" in id
    ? { blockNumber: id.block_number }
    : { blockHash: id.block_hash }

export const blockNotFound = new WireError(24, "Block not found")

const price = (fri: bigint) => ({ price_in_fri: hex(fri), price_in_wei: "0x0" })

/** `BLOCK_HEADER` and `status`; the devnet charges no gas, so every price is zero. */
export const blockHeader = (b: DevnetBlock) => ({
  status: b.status,
  block_hash: b.blockHash,
  parent_hash: b.parentHash,
  block_number: b.blockNumber,
  new_root: "0x0",
  timestamp: b.timestamp,
  sequencer_address: hex(SEQUENCER_ADDRESS),
  l1_gas_price: price(GAS_PRICES.l1Gas),
  l2_gas_price: price(GAS_PRICES.l2Gas),
  l1_data_gas_price: price(GAS_PRICES.l1DataGas),
  l1_da_mode: "BLOB",
  starknet_version: "0.14.0"
})

/** `INVOKE_TXN_V3` with its hash: the fields its hash was computed from. */
export const invokeTxn = (t: DevnetBlock["transactions"][number]) => {
  const bound = (b: ResourceBound) => ({ max_amount: hex(b.maxAmount), max_price_per_unit: hex(b.maxPricePerUnit) })
  return {
    transaction_hash: t.transactionHash,
    type: "INVOKE",
    version: "0x3",
    sender_address: t.senderAddress,
    calldata: t.calldata,
    signature: t.signature,
    nonce: t.nonce,
    resource_bounds: { l1_gas: bound(t.resourceBounds.l1Gas), l2_gas: bound(t.resourceBounds.l2Gas), l1_data_gas: bound(t.resourceBounds.l1DataGas) },
    tip: hex(t.tip),
    paymaster_data: t.paymasterData,
    account_deployment_data: t.accountDeploymentData,
    nonce_data_availability_mode: t.nonceDataAvailabilityMode,
    fee_data_availability_mode: t.feeDataAvailabilityMode
  }
}

const Key = Schema.Struct({ block_id: blockId })
const ContractAt = Schema.Struct({ block_id: blockId, contract_address: Address })
const FunctionCall = Schema.Struct({
  contract_address: Address,
  entry_point_selector: Felt,
  calldata: Schema.optionalWith(Schema.Array(Felt), { default: () => [] })
})
/** `EVENT_FILTER` with `RESULT_PAGE_REQUEST` (spec 0.9). */
const EventFilter = Schema.Struct({
  from_block: Schema.optional(BlockId),
  to_block: Schema.optional(BlockId),
  address: Schema.optional(Address),
  keys: Schema.optional(Schema.Array(Schema.Array(Felt))),
  chunk_size: Schema.Int.pipe(Schema.between(1, 1024)),
  continuation_token: Schema.optional(Schema.String)
})

const contractNotFound = new WireError(20, "Contract not found")
const txNotFound = new WireError(29, "Transaction hash not found")
const hex = (v: bigint) => toHex(v) as Felt

/**
 * A receipt of spec 0.9 (`TXN_RECEIPT_WITH_BLOCK_INFO`), as readers see it: in a closed block with its hash, in the
 * block being built as `PRE_CONFIRMED` with its number only; `undefined` while it has none.
 */
const receiptOf = (node: Node, tx: Tx) => {
  const r = node.receiptOf(tx)
  return r === undefined ? undefined : {
    ...receiptFields(tx, r.gas),
    execution_status: r.execution,
    finality_status: r.finalityStatus,
    ...(r.revertReason !== undefined ? { revert_reason: r.revertReason } : {}),
    ...(r.blockHash !== undefined ? { block_hash: hex(r.blockHash) } : {}),
    block_number: r.blockNumber,
    events: r.events.map(eventOf)
  }
}
type DevnetTx = DevnetBlock["transactions"][number]
interface BlockView {
  readonly header: object
  readonly transactions: ReadonlyArray<DevnetTx>
  readonly receipt: (t: DevnetTx) => object
}
const eventOf = (e: ChainEvent) => ({ from_address: hex(e.fromAddress), keys: e.keys.map(hex), data: e.data.map(hex) })
/** What every receipt of the devnet has: the gas the model gives at its prices (zero), no messages to L1. */
const receiptFields = (tx: Tx, gas: Gas = ZERO_GAS) => ({
  type: "INVOKE",
  transaction_hash: hex(tx.hash),
  actual_fee: { amount: hex(feeOf(gas)), unit: "FRI" },
  messages_sent: [],
  execution_resources: { l1_gas: Number(gas.l1Gas), l1_data_gas: Number(gas.l1DataGas), l2_gas: Number(gas.l2Gas) }
})
const ZERO_GAS: Gas = { l1Gas: 0n, l1DataGas: 0n, l2Gas: 0n }

const numberOfBlock = (node: Node, id: typeof BlockId.Type) =>
  Effect.suspend(() => {
    const n = node.blockNumberOf(toBlockId(id))
    return n === undefined ? Effect.fail(blockNotFound) : Effect.succeed(n)
  })

/** The state after block `id` and that block's timestamp, as readers see them (at `pre_confirmed`, after the block being built). */
export const stateAtBlock = (node: Node, id: typeof BlockId.Type): Effect.Effect<{ readonly state: State; readonly timestamp: number }, WireError> =>
  Effect.suspend(() => {
    const pre = id === "pre_confirmed" ? node.preConfirmed() : undefined
    if (pre !== undefined) return Effect.succeed({ state: pre.state, timestamp: pre.timestamp })
    return Effect.flatMap(numberOfBlock(node, id), (n) => {
      const state = n === node.readBlock() && node.lagged() === undefined ? node.chain.contracts : node.chain.stateAt(n)
      return state === undefined
        ? Effect.fail(new WireError(24, "Block not found", `the state of block ${n} is no longer kept`))
        : Effect.succeed({ state, timestamp: node.chain.blocks.get(n)!.timestamp })
    })
  })

type Id = typeof BlockId.Type

const contractAt = (node: Node, id: Id, address: string) =>
  Effect.flatMap(stateAtBlock(node, id), ({ state }) => {
    const contract = state.get(BigInt(address))
    return contract === undefined ? Effect.fail(contractNotFound) : Effect.succeed(contract)
  })

const txByHash = (node: Node, txHash: string) =>
  Effect.suspend(() => {
    const found = node.chain.txs.get(BigInt(txHash))
    return found === undefined || found.rejected !== undefined ? Effect.fail(txNotFound) : Effect.succeed(found)
  })

const closedBlock = (node: Node, id: Id) =>
  Effect.suspend(() => {
    const b = node.block(toBlockId(id))
    return b === undefined ? Effect.fail(blockNotFound) : Effect.succeed(b)
  })

/**
 * A block with its transactions and their receipts (without block fields): a closed one, or at `pre_confirmed`
 * the block being built (`PRE_CONFIRMED_BLOCK_HEADER`: no hash, parent, root or status).
 */
const anyBlock = (node: Node, id: Id): Effect.Effect<BlockView, WireError> => {
  const { chain } = node
  const pre = id === "pre_confirmed" ? node.preConfirmed() : undefined
  if (pre !== undefined) {
    const { block_hash: _h, parent_hash: _p, new_root: _r, status: _s, ...header } = blockHeader({
      blockNumber: pre.number,
      timestamp: pre.timestamp
    } as DevnetBlock)
    const txs = [...pre.outcomes.keys()]
    return Effect.succeed({
      header,
      transactions: txs.map(txView),
      receipt: (t: DevnetBlock["transactions"][number]) => {
        const tx = chain.txs.get(BigInt(t.transactionHash))!
        const outcome = pre.outcomes.get(tx)!
        return {
          ...receiptFields(tx, outcome.gas),
          execution_status: outcome.execution,
          finality_status: "PRE_CONFIRMED",
          ...(outcome.revertReason !== undefined ? { revert_reason: outcome.revertReason } : {}),
          events: outcome.events.map(eventOf)
        }
      }
    })
  }
  return Effect.map(closedBlock(node, id), (b) => ({
    header: blockHeader(b),
    transactions: b.transactions,
    receipt: (t: DevnetBlock["transactions"][number]) => {
      const { block_hash: _h, block_number: _n, ...receipt } = receiptOf(node, chain.txs.get(BigInt(t.transactionHash))!)!
      return receipt
    }
  }))
}

/** `starknet_call` at the state after block `id`. */
const callAt = (node: Node, id: Id, request: typeof FunctionCall.Type) =>
  Effect.flatMap(stateAtBlock(node, id), ({ state, timestamp }) => {
    const { chain } = node
    const contract = state.get(BigInt(request.contract_address))
    if (contract === undefined) return Effect.fail(contractNotFound)
    const selector = BigInt(request.entry_point_selector)
    if (!classOf(contract.kind).selectors.has(selector)) return Effect.fail(new WireError(21, "Requested entrypoint does not exist in the contract"))
    try {
      return Effect.succeed(
        chain.viewAt(state, BigInt(timestamp), () => chain.call(0n, BigInt(request.contract_address), selector, request.calldata.map(BigInt))).map(hex)
      )
    } catch (error) {
      if (!(error instanceof Revert)) throw error
      return Effect.fail(new WireError(40, "Contract error", { revert_error: error.reason }))
    }
  })

/** `starknet_getEvents`: the events matching a filter, a page at a time. */
const eventsOf = (node: Node, filter: typeof EventFilter.Type) =>
  Effect.gen(function*() {
    const from = filter.from_block === undefined ? 0 : yield* numberOfBlock(node, filter.from_block)
    const to = filter.to_block === undefined ? node.readBlock() : yield* numberOfBlock(node, filter.to_block)
    // The continuation token is `block:transaction:event`, where the previous page stopped.
    const token = filter.continuation_token?.split(":").map(Number) ?? [from, 0, 0]
    if (token.length !== 3 || token.some((v) => !Number.isSafeInteger(v) || v < 0)) {
      return yield* Effect.fail(new WireError(33, "The supplied continuation token is invalid or unknown"))
    }
    const address = filter.address === undefined ? undefined : BigInt(filter.address)
    const keys = filter.keys?.map((alternatives) => new Set(alternatives.map(BigInt)))
    const matches = (e: { readonly fromAddress: bigint; readonly keys: ReadonlyArray<bigint> }) =>
      (address === undefined || e.fromAddress === address) &&
      (keys === undefined || keys.every((set, i) => set.size === 0 || (e.keys[i] !== undefined && set.has(e.keys[i]!))))
    const events: Array<unknown> = []
    for (const b of node.chain.blocks.withTransactions(Math.max(from, token[0]!), to)) {
      for (let t = b.number === token[0] ? token[1]! : 0; t < b.transactions.length; t++) {
        const transaction = b.transactions[t]!
        for (let e = b.number === token[0] && t === token[1] ? token[2]! : 0; e < transaction.events.length; e++) {
          const event = transaction.events[e]!
          if (!matches(event)) continue
          if (events.length === filter.chunk_size) return { events, continuation_token: `${b.number}:${t}:${e}` }
          events.push({
            from_address: hex(event.fromAddress),
            keys: event.keys.map(hex),
            data: event.data.map(hex),
            block_hash: hex(b.hash),
            block_number: b.number,
            transaction_hash: hex(transaction.hash)
          })
        }
      }
    }
    return { events }
  })

export const chainMethods = (node: Node): Methods => ({
  starknet_syncing: method([], Schema.Struct({}), () => Effect.succeed(false)),
  starknet_blockHashAndNumber: method([], Schema.Struct({}), () =>
    Effect.map(closedBlock(node, "latest"), (b) => ({ block_hash: b.blockHash, block_number: b.blockNumber }))),
  starknet_getBlockWithTxHashes: method(["block_id"], Key, ({ block_id }) =>
    Effect.map(anyBlock(node, block_id), ({ header, transactions }) => ({ ...header, transactions: transactions.map((t) => t.transactionHash) }))),
  starknet_getBlockWithTxs: method(["block_id"], Key, ({ block_id }) =>
    Effect.map(anyBlock(node, block_id), ({ header, transactions }) => ({ ...header, transactions: transactions.map(invokeTxn) }))),
  starknet_getBlockWithReceipts: method(["block_id"], Key, ({ block_id }) =>
    Effect.map(anyBlock(node, block_id), ({ header, receipt, transactions }) => ({
      ...header,
      transactions: transactions.map((t) => ({ transaction: invokeTxn(t), receipt: receipt(t) }))
    }))),
  starknet_getBlockTransactionCount: method(["block_id"], Key, ({ block_id }) =>
    Effect.map(anyBlock(node, block_id), (b) => b.transactions.length)),
  starknet_getTransactionByHash: method(["transaction_hash"], Schema.Struct({ transaction_hash: Felt }), ({ transaction_hash }) =>
    Effect.map(txByHash(node, transaction_hash), (t) => invokeTxn(txView(t)))),
  starknet_getTransactionByBlockIdAndIndex: method(
    ["block_id", "index"],
    Schema.Struct({ block_id: blockId, index: Schema.Int.pipe(Schema.nonNegative()) }),
    ({ block_id, index }) =>
      Effect.flatMap(anyBlock(node, block_id), (b) => {
        const t = b.transactions[index]
        return t === undefined ? Effect.fail(new WireError(27, "Invalid transaction index in a block")) : Effect.succeed(invokeTxn(t))
      })
  ),
  starknet_getTransactionReceipt: method(["transaction_hash"], Schema.Struct({ transaction_hash: Felt }), ({ transaction_hash }) =>
    Effect.flatMap(txByHash(node, transaction_hash), (t) => {
      const receipt = receiptOf(node, t)
      return receipt === undefined ? Effect.fail(txNotFound) : Effect.succeed(receipt)
    })),
  starknet_call: method(["request", "block_id"], Schema.Struct({ request: FunctionCall, block_id: blockId }), ({ block_id, request }) =>
    callAt(node, block_id, request)),
  starknet_getNonce: method(["block_id", "contract_address"], ContractAt, ({ block_id, contract_address }) =>
    Effect.map(contractAt(node, block_id, contract_address), (c) => hex(c.kind === "account" ? c.nonce : 0n))),
  starknet_getClassHashAt: method(["block_id", "contract_address"], ContractAt, ({ block_id, contract_address }) =>
    Effect.map(contractAt(node, block_id, contract_address), (c) => hex(classOf(c.kind).classHash))),
  starknet_getClassAt: method(["block_id", "contract_address"], ContractAt, ({ block_id, contract_address }) =>
    Effect.map(contractAt(node, block_id, contract_address), (c) => contractClass(classOf(c.kind)))),
  starknet_getClass: method(["block_id", "class_hash"], Schema.Struct({ block_id: blockId, class_hash: Felt }), ({ block_id, class_hash }) =>
    Effect.flatMap(numberOfBlock(node, block_id), () => {
      const c = [ACCOUNT_CLASS, TOKEN_CLASS].find((k) => k.classHash === BigInt(class_hash))
      return c === undefined ? Effect.fail(new WireError(28, "Class hash not found")) : Effect.succeed(contractClass(c))
    })),
  starknet_getStorageAt: method(
    ["contract_address", "key", "block_id"],
    Schema.Struct({ contract_address: Address, key: Felt, block_id: blockId }),
    ({ block_id, contract_address, key }) =>
      Effect.map(contractAt(node, block_id, contract_address), (c) => hex(storageOf(c).get(BigInt(key)) ?? 0n))
  ),
  starknet_getEvents: method(["filter"], Schema.Struct({ filter: EventFilter }), ({ filter }) => eventsOf(node, filter))
})

/**
 * The storage a contract's Cairo source would hold, at the keys Starknet derives (`sn_keccak(name)`, maps at
 * `pedersen(base, key)`, a u256 as low then high): OpenZeppelin's ERC-20 component names (`ERC20_balances`,
 * `ERC20_allowances`, `ERC20_total_supply`) and account component (`Account_public_key`), SRC-9's used nonces
 * (`SRC9_nonces`). The session maps are not laid out (their names are the contract's own).
 */
const storageOf = (c: Account | Token): Map<bigint, bigint> => {
  const out = new Map<bigint, bigint>()
  const map = (base: bigint, ...keys: ReadonlyArray<bigint>) => keys.reduce((k, key) => BigInt(pedersen(k, key)), base)
  const u256 = (at: bigint, v: bigint) => {
    out.set(at, v & U128_MAX)
    out.set(at + 1n, v >> 128n)
  }
  if (c.kind === "token") {
    const balances = base("ERC20_balances")
    for (const [owner, amount] of c.balances) u256(map(balances, owner), amount)
    const allowances = base("ERC20_allowances")
    for (const [pair, amount] of c.allowances) {
      const [owner, spender] = pair.split(":").map(BigInt) as [bigint, bigint]
      u256(map(allowances, owner, spender), amount)
    }
    u256(base("ERC20_total_supply"), c.supply)
  } else {
    out.set(base("Account_public_key"), c.publicKey)
    const nonces = base("SRC9_nonces")
    for (const nonce of c.usedNonces) out.set(map(nonces, nonce), 1n)
  }
  return out
}
const base = (name: string) => selectorOfName(name)
