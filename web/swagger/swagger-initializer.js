// Starts Swagger UI on the server's own OpenAPI document. validatorUrl: null keeps the
// page from calling the online validator, so the docs work offline.
window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: new URL('../openapi.json', window.location.href).pathname,
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  })
})
