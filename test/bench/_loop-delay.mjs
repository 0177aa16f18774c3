// Preloaded (`node --import`) into the server the soak spawns: on exit, writes the server's own event-loop delay
// (how late a 10 ms timer fires, so how long one turn of its loop ran) and its GC pauses to stderr as one JSON line.
import { writeSync } from "node:fs"
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"

const delay = monitorEventLoopDelay({ resolution: 10 })
delay.enable()
const pauses = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) pauses.push(entry.duration)
}).observe({ entryTypes: ["gc"] })

process.on("exit", () => {
  const ms = (ns) => Math.round(ns / 1e4) / 100
  const line = {
    loopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
    gc: { pauses: pauses.length, totalMs: Math.round(pauses.reduce((a, b) => a + b, 0)), maxMs: Math.round(Math.max(0, ...pauses)) }
  }
  writeSync(2, `soak-server-loop ${JSON.stringify(line)}\n`)
})
