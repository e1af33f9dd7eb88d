"""What catalog asks of the apps above it, without importing them (docs/architecture.md): each
hook is filled by the higher app's AppConfig.ready() (cpe.core.hooks)."""

from cpe.core.hooks import Hook

# fn(user, at) -> {product id: "held" | "included"} for the catalogue's buttons (orders).
products_held = Hook("catalog.products_held", single=True)
