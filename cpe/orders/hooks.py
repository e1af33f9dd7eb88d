"""What orders asks of the apps above it, without importing them (docs/architecture.md): each
hook is filled by the higher app's AppConfig.ready() (cpe.core.hooks)."""

from cpe.core.hooks import Hook

# fn(*, order, refund, at) after a refund's money went back, inside its transaction: the red-letter
# invoice (invoicing; a failing invoice service must not roll the refund back).
refunded = Hook("orders.refunded")
# fn(user, orders, *, at) -> {order id: the invoice state shown on 我的订单} (invoicing).
invoice_states = Hook("orders.invoice_states", single=True)
