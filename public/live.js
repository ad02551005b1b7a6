/* global EventSource, DOMParser */
// Live updates of the batch page: listens to the batch's event stream and, after each burst of
// changes, fetches the page again and swaps in the counts, the pictures and the rows. The
// server renders (and escapes) everything; nothing here builds HTML from data.
(function () {
  'use strict'
  const root = document.getElementById('live-root')
  if (root === null || typeof window.EventSource !== 'function') return
  const TYPES = ['failure.opened', 'failure.reopened', 'failure.resolved', 'failure.stalled']
  const REGIONS = ['glance', 'report-count', 'report']
  const url = new URL(root.getAttribute('data-stream'), window.location.href)
  url.searchParams.set('after', root.getAttribute('data-after'))
  const source = new EventSource(url.toString())
  const status = document.getElementById('live-status')
  let pending = 0
  let timer = null

  function rowKeys (scope, selector) {
    const keys = new Set()
    scope.querySelectorAll(selector).forEach(function (element) {
      const row = element.closest('tr')
      if (row !== null) keys.add(row.getAttribute('data-key'))
    })
    return keys
  }

  function refresh () {
    timer = null
    const count = pending
    pending = 0
    fetch(window.location.href, { headers: { accept: 'text/html' }, credentials: 'same-origin' }).then(function (response) {
      if (!response.ok) throw new Error('status ' + response.status)
      return response.text()
    }).then(function (html) {
      const fresh = new DOMParser().parseFromString(html, 'text/html')
      const opened = rowKeys(document, '#report-rows details[open]')
      const before = rowKeys(document, '#report-rows tr[data-key] th')
      const focused = document.activeElement !== null && document.activeElement.closest('#report-rows tr[data-key]')
      const focusKey = focused ? focused.getAttribute('data-key') : null
      REGIONS.forEach(function (id) {
        const next = fresh.getElementById(id)
        const current = document.getElementById(id)
        if (next !== null && current !== null) current.replaceWith(document.importNode(next, true))
      })
      document.querySelectorAll('#report-rows tr[data-key]').forEach(function (row) {
        const key = row.getAttribute('data-key')
        const details = row.querySelector('details')
        if (details !== null && opened.has(key)) details.open = true
        if (!before.has(key)) row.classList.add('new')
        if (key === focusKey) {
          const target = row.querySelector('summary') || row.querySelector('a')
          if (target !== null) target.focus()
        }
      })
      if (status !== null) status.textContent = 'Updated live at ' + new Date().toLocaleTimeString() + ': ' + count + (count === 1 ? ' change.' : ' changes.')
    }).catch(function () {
      if (status !== null) status.textContent = 'Could not refresh the report; reload the page.'
    })
  }

  TYPES.forEach(function (type) {
    source.addEventListener(type, function () {
      pending += 1
      if (timer === null) timer = window.setTimeout(refresh, 400)
    })
  })
  source.addEventListener('open', function () { root.setAttribute('data-live', 'connected') })
  source.addEventListener('error', function () { root.setAttribute('data-live', 'reconnecting') })
})()
