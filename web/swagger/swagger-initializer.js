// Starts Swagger UI on the server's own OpenAPI documents, one per API version (v2 by
// default; ?version=v1 for the deprecated v1), chosen in the bar's picker. validatorUrl:
// null keeps the page from calling the online validator, so the docs work offline.
window.addEventListener('load', function () {
  var versions = { v2: '../v2/openapi.json', v1: '../v1/openapi.json' }
  var params = new URLSearchParams(window.location.search)
  var version = versions[params.get('version')] ? params.get('version') : 'v2'
  var specURL = new URL(versions[version], window.location.href).pathname
  var picker = document.getElementById('baton-version')
  var link = document.getElementById('baton-spec')
  picker.value = version
  link.href = specURL
  picker.addEventListener('change', function () {
    params.set('version', picker.value)
    window.location.search = params.toString()
  })
  window.ui = SwaggerUIBundle({
    url: specURL,
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  })
})
