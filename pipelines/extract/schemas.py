"""Named extraction schemas: Pydantic models in code, listed by name with their JSON Schemas.

Why models in code: the named schemas are a contract with API users (field names, types,
normalisation), reviewed like any other code; a caller who needs another shape sends a JSON
Schema instead (`pipelines.extract.json_schema`). Every field may be null, because a field a
document does not state must stay empty rather than be invented. The model is asked to copy
dates and amounts as printed, and the validators normalise them (dates to ISO 8601, amounts to
decimal strings, `pipelines.extract.normalize`): deterministic code converts formats more
reliably than a small model does. A value that cannot be normalised fails validation, and the
model is asked again with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipelines.extract.errors import InvalidSchema
from pipelines.extract.json_schema import Target, ValidationErrors, custom_target, to_strict
from pipelines.extract.normalize import normalize_amount, normalize_date

_CURRENCY_SYMBOLS = {"RM": "MYR", "$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY",
                     "₹": "INR", "S$": "SGD", "A$": "AUD", "C$": "CAD"}


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = " ".join(value.split())
        return value or None
    return value


def _amount(value: Any) -> Any:
    value = _blank_to_none(value)
    return None if value is None else normalize_amount(value)


def _date(value: Any) -> Any:
    value = _blank_to_none(value)
    return None if value is None else normalize_date(str(value))


class _Extracted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)


class Receipt(_Extracted):
    """A shop receipt's key fields (those of the SROIE benchmark)."""

    company: str | None = Field(None, description="Name of the business that issued the "
                                "receipt (usually at the top, often with a legal form such as "
                                "SDN BHD, LTD or INC), exactly as printed.")
    date: str | None = Field(None, description="Date of the purchase, copied as printed "
                             "(lectern normalises it to YYYY-MM-DD).")
    address: str | None = Field(None, description="The business's full address as printed: "
                                "every line of it (street, area, postcode, city, state), "
                                "joined with single spaces.")
    total: str | None = Field(None, description="The final amount paid, after tax and rounding "
                              "(on a line such as TOTAL, ROUNDED TOTAL or GRAND TOTAL), copied "
                              "as printed, such as 9.00.")

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        return _date(value)

    @field_validator("total", mode="before")
    @classmethod
    def _decimal(cls, value: Any) -> Any:
        return _amount(value)


class LineItem(_Extracted):
    """One invoiced line."""

    description: str | None = Field(None, description="What was sold, as printed.")
    quantity: float | None = Field(None, description="How many units.")
    unit_price: str | None = Field(None, description="Price of one unit, a decimal number.")
    amount: str | None = Field(None, description="Line total, a decimal number.")

    @field_validator("unit_price", "amount", mode="before")
    @classmethod
    def _decimal(cls, value: Any) -> Any:
        return _amount(value)


class Invoice(_Extracted):
    """A supplier invoice: who, which, when, what, and how much."""

    vendor: str | None = Field(None, description="Name of the business issuing the invoice.")
    invoice_number: str | None = Field(None, description="The invoice number, as printed.")
    invoice_date: str | None = Field(None, description="Date of issue, copied as printed.")
    due_date: str | None = Field(None, description="Payment due date, copied as printed.")
    line_items: list[LineItem] = Field(default_factory=list,
                                       description="Every invoiced line, in order.")
    subtotal: str | None = Field(None, description="Total before tax, a decimal number.")
    tax: str | None = Field(None, description="Tax amount, a decimal number.")
    total: str | None = Field(None, description="Amount due, a decimal number.")
    currency: str | None = Field(None, description="ISO 4217 currency code, such as USD.")

    @field_validator("invoice_date", "due_date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        return _date(value)

    @field_validator("subtotal", "tax", "total", mode="before")
    @classmethod
    def _decimal(cls, value: Any) -> Any:
        return _amount(value)

    @field_validator("line_items", mode="before")
    @classmethod
    def _no_items(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: Any) -> Any:
        value = _blank_to_none(value)
        if value is None:
            return None
        code = _CURRENCY_SYMBOLS.get(str(value).upper(), str(value).upper())
        if len(code) != 3 or not code.isalpha():
            raise ValueError(f"not a currency code: {value!r}; give ISO 4217, such as USD")
        return code


@dataclass(frozen=True)
class NamedSchema:
    """A schema callers ask for by name."""

    name: str
    model: type[BaseModel]
    description: str

    @property
    def json_schema(self) -> dict[str, Any]:
        """The model's JSON Schema as Pydantic writes it (what `GET /v1/schemas` shows)."""
        return self.model.model_json_schema()

    def target(self) -> Target:
        """The extraction target: Pydantic validation, strict schema for the model."""
        model = self.model

        def validate(obj: Any) -> tuple[dict[str, Any] | None, ValidationErrors]:
            try:
                return model.model_validate(obj).model_dump(mode="json"), []
            except ValidationError as exc:
                return None, [{"loc": ".".join(str(p) for p in e["loc"]) or "(root)",
                               "msg": e["msg"]} for e in exc.errors()[:20]]

        return Target(self.name, self.json_schema, to_strict(self.json_schema), validate)


SCHEMAS: dict[str, NamedSchema] = {
    s.name: s for s in (
        NamedSchema("receipt", Receipt, "Shop receipt: company, date, address, total."),
        NamedSchema("invoice", Invoice, "Supplier invoice: vendor, number, dates, line items, "
                    "subtotal, tax, total, currency."),
    )
}


def named_schema(name: str) -> NamedSchema:
    """The named schema; InvalidSchema (422) listing the known names otherwise."""
    found = SCHEMAS.get(name.strip().lower())
    if found is None:
        raise InvalidSchema(f"unknown schema {name!r}; known: {', '.join(SCHEMAS)} (or send a "
                            "JSON Schema object)", schema=name, known=list(SCHEMAS))
    return found


def resolve_target(schema: str | dict[str, Any]) -> Target:
    """A schema name or a caller's JSON Schema, as an extraction target."""
    if isinstance(schema, str):
        return named_schema(schema).target()
    return custom_target(schema)
