"""HTTP routes, one module per area; thin: validate, call the core, shape the response."""
