"""SQLAlchemy models of the console, one module per concern."""

from console.models.addresses import CustomerAddress, PostalAddress
from console.models.api import ApiToken, IdempotencyKey
from console.models.audit import AuditEvent
from console.models.customers import Customer
from console.models.documents import (
    CreditNote,
    DocumentCounter,
    DocumentSeries,
    ImmutableDocument,
    Invoice,
)
from console.models.drafts import FormDraft
from console.models.imports import (
    ImportBatch,
    ImportCheckedRow,
    ImportFilePart,
    ImportState,
)
from console.models.invitations import StaffInvitation
from console.models.jobs import Job, JobState
from console.models.notes import OrderNote
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
from console.models.returns import Return, ReturnLine, ReturnOutcome, ReturnState
from console.models.saved_filters import SavedFilter
from console.models.security import SignInAttempt
from console.models.sessions import StaffSession
from console.models.staff import Role, User
from console.models.stock import StockMovement, StockReason
from console.models.submissions import FormSubmission
from console.models.webhooks import DeliveryStatus, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiToken",
    "IdempotencyKey",
    "AuditEvent",
    "CreditNote",
    "DocumentCounter",
    "DocumentSeries",
    "ImmutableDocument",
    "Invoice",
    "Customer",
    "FormDraft",
    "CustomerAddress",
    "DeliveryStatus",
    "FormSubmission",
    "ImportBatch",
    "ImportCheckedRow",
    "ImportFilePart",
    "ImportState",
    "Job",
    "JobState",
    "Order",
    "OrderLine",
    "OrderNote",
    "OrderStatus",
    "OrderTaxLine",
    "OutboxMessage",
    "OutboxStatus",
    "PostalAddress",
    "Product",
    "Promotion",
    "PromotionCustomerUse",
    "PromotionKind",
    "Return",
    "ReturnLine",
    "ReturnOutcome",
    "ReturnState",
    "Role",
    "SavedFilter",
    "ShippingMethod",
    "SignInAttempt",
    "StaffInvitation",
    "StaffSession",
    "StockMovement",
    "StockReason",
    "TaxRate",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
