// Starts the API reads of a run page (/runs/{id}: the run and its Gantt) as soon as the
// HTML arrives, while the app's JavaScript is still loading and compiling; apiFetch
// (src/api/client.ts) takes each answer instead of asking again. A plain script (the
// Content-Security-Policy allows no inline script), loaded before the app's module.
;(function () {
  var m = /^\/runs\/([1-9][0-9]{0,17})\/?$/.exec(location.pathname)
  if (!m || typeof fetch !== 'function') return
  var urls = ['/v1/runs/' + m[1], '/v1/runs/' + m[1] + '/gantt']
  var pending = {}
  urls.forEach(function (u) {
    var p = fetch(u, { credentials: 'same-origin', headers: { Accept: 'application/json, application/problem+json' } })
    p.catch(function () {}) // a failure is the app's to see when it takes the answer
    pending[u] = p
  })
  window.__batonPreload = pending
})()
