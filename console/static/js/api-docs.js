// Starts Swagger UI on the API's OpenAPI document (templates/api/docs.html).
// A file rather than inline code: the Content-Security-Policy runs no inline script.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    persistAuthorization: false
  });
})();
