import { describe, expect, it } from "vitest"
import { lazily } from "../../src/internal/account/lazy.js"

describe("lazily", () => {
  it("builds the value at the first read, once, and not before", () => {
    let builds = 0
    const table = lazily(() => {
      builds++
      return { transfer: 1n, approve: 2n }
    })
    expect(builds).toBe(0)
    expect(table.transfer).toBe(1n)
    expect(table.approve).toBe(2n)
    expect(builds).toBe(1)
    expect(Object.keys(table)).toEqual(["transfer", "approve"])
    expect("approve" in table && !("upgrade" in table)).toBe(true)
    expect({ ...table }).toEqual({ transfer: 1n, approve: 2n })
    expect(builds).toBe(1)
  })

  it("a Set or a Map behind it answers through its own methods", () => {
    const set = lazily(() => new Set([1n, 2n]))
    expect(set.has(2n)).toBe(true)
    expect(set.has(3n)).toBe(false)
    expect(set.size).toBe(2)
    const map = lazily(() => new Map([["0x1", "upgrade"]]))
    expect(map.get("0x1")).toBe("upgrade")
    expect(map.get("0x2")).toBeUndefined()
  })
})
