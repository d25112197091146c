// Starts Swagger UI on /docs (a file of its own: no inline script under the CSP).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // the default validator is another host
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
