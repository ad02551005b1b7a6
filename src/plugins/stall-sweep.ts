import fp from 'fastify-plugin'
import { BackgroundTimer, StallSweep } from '../services/stall-sweep.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The background stall sweep; tests drive it with runOnce(). */
    stallSweep: StallSweep
  }
}

/** Sweeps for stalls every STALL_SWEEP_INTERVAL, in the background (unref'd, stopped on close). */
export default fp(async (app) => {
  const sweep = new StallSweep({ repository: app.failures, clock: app.clock, stallAfterMs: app.config.stallAfterMs, onRun: app.metrics.stallSweep })
  app.decorate('stallSweep', sweep)
  const timer = new BackgroundTimer(app.config.stallSweepIntervalMs, async () => await sweep.runOnce(),
    (error) => { app.log.error({ err: error }, 'stall sweep failed') })
  app.addHook('onReady', async () => { timer.start() })
  app.addHook('preClose', async () => {
    sweep.stop()
    await timer.stop()
    await sweep.idle()
  })
}, { name: 'stall-sweep', dependencies: ['stores', 'change-feed', 'metrics'] })
