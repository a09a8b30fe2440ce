"""HTTP routes, one module per resource. Handlers parse, call a service, serialize."""
