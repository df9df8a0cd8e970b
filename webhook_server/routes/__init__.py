"""The HTTP routes, one module per surface; each has ``register(app, deps)``."""
