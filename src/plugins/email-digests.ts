import fp from 'fastify-plugin'
import type { EmailRepository } from '../repositories/email.js'
import { EmailDigester, EmailSender } from '../services/email-digests.js'
import { BackgroundTimer } from '../services/stall-sweep.js'
import { HttpProblem } from './problems.js'

export interface EmailDigests {
  /** Null when e-mail is off (no SMTP_URL, or no store for it). */
  repository: EmailRepository | null
  digester: EmailDigester | null
  sender: EmailSender | null
  /** The store, or a 409 problem saying e-mail is off. */
  require: () => EmailRepository
}

declare module 'fastify' {
  interface FastifyInstance {
    /** E-mail digests; tests drive them with digester.runOnce() and sender.runOnce(). */
    emailDigests: EmailDigests
  }
}

export const EMAIL_DISABLED_PROBLEM = 'urn:problem:sync-failure-reports:email-disabled'

/** Digests every EMAIL_POLL_INTERVAL, then sends what is due, in the background (unref'd, stopped on close). */
export default fp<{ repository: EmailRepository | null }>(async (app, { repository }) => {
  const config = app.config.email
  const on = config !== null && repository !== null
  const digester = on
    ? new EmailDigester({
      emails: repository, feed: app.changes, failures: app.failures, config, clock: app.clock, onLag: (lag) => { app.metrics.feedLag('email', lag) }
    })
    : null
  const sender = on
    ? new EmailSender({
      emails: repository,
      config,
      clock: app.clock,
      log: (delivery, error) => { app.log.warn({ err: error, deliveryId: delivery.id, attempts: delivery.attempts }, 'e-mail delivery attempt failed') },
      onAttempt: (outcome) => { app.metrics.delivery('email', outcome) }
    })
    : null
  app.decorate('emailDigests', {
    repository,
    digester,
    sender,
    require: () => {
      if (!on) {
        throw new HttpProblem({
          type: EMAIL_DISABLED_PROBLEM,
          title: 'E-mail is off',
          status: 409,
          detail: 'E-mail digests are off on this deployment: set SMTP_URL, SMTP_FROM and PUBLIC_URL to turn them on.'
        })
      }
      return repository
    }
  })
  if (digester === null || sender === null || config === null) return
  const timer = new BackgroundTimer(config.pollIntervalMs, async () => {
    await digester.runOnce()
    await sender.runOnce()
  }, (error) => { app.log.error({ err: error }, 'e-mail digests failed') })
  app.addHook('onReady', async () => { timer.start() })
  app.addHook('preClose', async () => {
    await timer.stop()
    await sender.idle()
    sender.close()
  })
}, { name: 'email-digests', dependencies: ['stores', 'change-feed', 'metrics'] })
