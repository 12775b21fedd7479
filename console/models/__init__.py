"""SQLAlchemy models of the console, one module per concern."""

from console.models.audit import AuditEvent
from console.models.customers import Customer
from console.models.jobs import Job, JobState
from console.models.orders import Order, OrderLine, OrderStatus
from console.models.outbox import OutboxMessage, OutboxStatus
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
    "Job",
    "JobState",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OutboxMessage",
    "OutboxStatus",
    "Product",
    "Role",
    "SignInAttempt",
    "StaffSession",
    "StockMovement",
    "StockReason",
    "User",
]
