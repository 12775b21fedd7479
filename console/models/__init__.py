"""SQLAlchemy models of the console, one module per concern."""

from console.models.audit import AuditEvent
from console.models.customers import Customer
from console.models.orders import Order, OrderLine, OrderStatus, OrderTaxLine
from console.models.outbox import OutboxMessage, OutboxStatus
from console.models.pricing import (
    Promotion,
    PromotionCustomerUse,
    PromotionKind,
    ShippingMethod,
    TaxRate,
)
from console.models.products import Product
from console.models.security import SignInAttempt
from console.models.sessions import StaffSession
from console.models.staff import Role, User
from console.models.stock import StockMovement, StockReason
from console.models.submissions import FormSubmission

__all__ = [
    "AuditEvent",
    "Customer",
    "FormSubmission",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OrderTaxLine",
    "OutboxMessage",
    "OutboxStatus",
    "Product",
    "Promotion",
    "PromotionCustomerUse",
    "PromotionKind",
    "Role",
    "ShippingMethod",
    "SignInAttempt",
    "StaffSession",
    "StockMovement",
    "StockReason",
    "TaxRate",
    "User",
]
