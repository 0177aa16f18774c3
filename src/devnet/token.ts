/** The devnet's ERC-20 token (STRK, USDC): its storage and entrypoints, u256 amounts, `Transfer`/`Approval` events. */
import { encodeShortString } from "../internal/crypto/felt.js"
import { params, split } from "./calldata.js"
import { Revert } from "./revert.js"
import { EVENT, S } from "./selectors.js"
import type { ChainEvent } from "./transactions.js"

export interface Token {
  readonly kind: "token"
  readonly symbol: string
  readonly decimals: number
  readonly balances: Map<bigint, bigint>
  readonly allowances: Map<string, bigint>
  supply: bigint
}

/** A copy that later writes do not reach (entries are replaced, never mutated). */
export const copyToken = (token: Token): Token => ({ ...token, balances: new Map(token.balances), allowances: new Map(token.allowances) })

/** What a token's code may do to the chain: journaled writes and events. */
export interface TokenContext {
  readonly setMap: <K, V>(map: Map<K, V>, key: K, value: V) => void
  readonly emit: (event: ChainEvent) => void
}

const balance = (token: Token, a: bigint) => token.balances.get(a) ?? 0n
const move = (ctx: TokenContext, token: Token, self: bigint, from: bigint, to: bigint, amount: bigint) => {
  if (to === 0n) throw new Revert("ERC20: transfer to 0")
  if (balance(token, from) < amount) throw new Revert("ERC20: insufficient balance")
  ctx.setMap(token.balances, from, balance(token, from) - amount)
  ctx.setMap(token.balances, to, balance(token, to) + amount)
  ctx.emit({ fromAddress: self, keys: [EVENT.Transfer, from, to], data: split(amount) })
}

export const callToken = (ctx: TokenContext, token: Token, self: bigint, caller: bigint, selector: bigint, cd: ReadonlyArray<bigint>): Array<bigint> => {
  switch (selector) {
    case S.balance_of:
    case S.balanceOf:
      return split(balance(token, params(cd, ["felt"])[0]))
    case S.transfer: {
      const [to, amount] = params(cd, ["felt", "u256"])
      move(ctx, token, self, caller, to, amount)
      return [1n]
    }
    case S.transfer_from:
    case S.transferFrom: {
      const [from, to, amount] = params(cd, ["felt", "felt", "u256"])
      const key = `${from}:${caller}`
      const allowed = token.allowances.get(key) ?? 0n
      if (allowed < amount) throw new Revert("ERC20: insufficient allowance")
      ctx.setMap(token.allowances, key, allowed - amount)
      move(ctx, token, self, from, to, amount)
      return [1n]
    }
    case S.approve: {
      const [spender, amount] = params(cd, ["felt", "u256"])
      ctx.setMap(token.allowances, `${caller}:${spender}`, amount)
      ctx.emit({ fromAddress: self, keys: [EVENT.Approval, caller, spender], data: split(amount) })
      return [1n]
    }
    case S.increase_allowance:
    case S.increaseAllowance: {
      const [spender, added] = params(cd, ["felt", "u256"])
      const key = `${caller}:${spender}`
      const amount = (token.allowances.get(key) ?? 0n) + added
      ctx.setMap(token.allowances, key, amount)
      ctx.emit({ fromAddress: self, keys: [EVENT.Approval, caller, spender], data: split(amount) })
      return [1n]
    }
    case S.allowance: {
      const [owner, spender] = params(cd, ["felt", "felt"])
      return split(token.allowances.get(`${owner}:${spender}`) ?? 0n)
    }
    case S.decimals:
      return [BigInt(token.decimals)]
    case S.symbol:
      return [encodeShortString(token.symbol)]
    case S.name:
      return [encodeShortString(token.symbol === "USDC" ? "USD Coin" : "Starknet Token")]
    case S.total_supply:
    case S.totalSupply:
      return split(token.supply)
    default:
      throw new Revert("ENTRYPOINT_NOT_FOUND")
  }
}
