"""Bad examples, one per field rule, with the error each must give: shared by the rejection tests
and tests/unit/test_schemas.py (the JSON Schemas must reject what the models reject)."""

from __future__ import annotations

import pytest

from tests.unit.events.examples import MISSING

TOO_LONG_ID = "x" * 129

BAD_DATA = [
    # usage.recorded
    pytest.param("usage.recorded", {"feature": MISSING}, "data.feature", "missing", id="usage-feature-missing"),
    pytest.param("usage.recorded", {"feature": "  "}, "data.feature", "string_too_short", id="usage-feature-blank"),
    pytest.param("usage.recorded", {"feature": 7}, "data.feature", "string_type", id="usage-feature-number"),
    pytest.param("usage.recorded", {"feature": "f" * 257}, "data.feature", "string_too_long", id="usage-feature-long"),
    pytest.param("usage.recorded", {"quantity": -1}, "data.quantity", "greater_than_equal", id="usage-qty-negative"),
    pytest.param("usage.recorded", {"quantity": "3"}, "data.quantity", "float_type", id="usage-qty-string"),
    pytest.param("usage.recorded", {"quantity": True}, "data.quantity", "float_type", id="usage-qty-bool"),
    pytest.param("usage.recorded", {"quantity": None}, "data.quantity", "float_type", id="usage-qty-null"),
    pytest.param("usage.recorded", {"user_id": TOO_LONG_ID}, "data.user_id", "string_too_long", id="usage-user-long"),
    pytest.param("usage.recorded", {"user_id": 42}, "data.user_id", "string_type", id="usage-user-number"),
    pytest.param("usage.recorded", {"product": ["a"]}, "data.product", "string_type", id="usage-product-list"),
    # interaction.logged
    pytest.param("interaction.logged", {"channel": MISSING}, "data.channel", "missing", id="inter-channel-missing"),
    pytest.param("interaction.logged", {"channel": "sms"}, "data.channel", "literal_error", id="inter-channel-bad"),
    pytest.param("interaction.logged", {"channel": "Email"}, "data.channel", "literal_error", id="inter-channel-case"),
    pytest.param("interaction.logged", {"direction": "up"}, "data.direction", "literal_error", id="inter-direction"),
    pytest.param(
        "interaction.logged", {"contact_id": TOO_LONG_ID}, "data.contact_id", "string_too_long", id="inter-contact"
    ),
    pytest.param("interaction.logged", {"sentiment": 1.01}, "data.sentiment", "less_than_equal", id="inter-sent-hi"),
    pytest.param("interaction.logged", {"sentiment": -1.5}, "data.sentiment", "greater_than_equal", id="inter-sent-lo"),
    pytest.param("interaction.logged", {"sentiment": "0.5"}, "data.sentiment", "float_type", id="inter-sent-str"),
    pytest.param("interaction.logged", {"sentiment": False}, "data.sentiment", "float_type", id="inter-sent-bool"),
    pytest.param(
        "interaction.logged", {"summary": "s" * 2001}, "data.summary", "string_too_long", id="inter-summary-long"
    ),
    # ticket.opened
    pytest.param("ticket.opened", {"ticket_id": MISSING}, "data.ticket_id", "missing", id="topen-id-missing"),
    pytest.param("ticket.opened", {"ticket_id": ""}, "data.ticket_id", "string_too_short", id="topen-id-empty"),
    pytest.param("ticket.opened", {"ticket_id": 12}, "data.ticket_id", "string_type", id="topen-id-number"),
    pytest.param("ticket.opened", {"severity": MISSING}, "data.severity", "missing", id="topen-sev-missing"),
    pytest.param("ticket.opened", {"severity": "critical"}, "data.severity", "literal_error", id="topen-sev-bad"),
    pytest.param("ticket.opened", {"subject": "s" * 10_001}, "data.subject", "string_too_long", id="topen-subj-long"),
    # ticket.closed
    pytest.param("ticket.closed", {"ticket_id": MISSING}, "data.ticket_id", "missing", id="tclose-id-missing"),
    pytest.param("ticket.closed", {"ticket_id": TOO_LONG_ID}, "data.ticket_id", "string_too_long", id="tclose-id-long"),
    pytest.param("ticket.closed", {"resolution": 1}, "data.resolution", "string_type", id="tclose-resolution"),
    # survey.answered
    pytest.param("survey.answered", {"kind": MISSING}, "data.kind", "missing", id="survey-kind-missing"),
    pytest.param("survey.answered", {"kind": "ces"}, "data.kind", "literal_error", id="survey-kind-bad"),
    pytest.param("survey.answered", {"score": MISSING}, "data.score", "missing", id="survey-score-missing"),
    pytest.param("survey.answered", {"score": 11}, "data.score", "score_out_of_range", id="survey-nps-11"),
    pytest.param("survey.answered", {"score": -1}, "data.score", "score_out_of_range", id="survey-nps-neg"),
    pytest.param(
        "survey.answered", {"kind": "csat", "score": 0}, "data.score", "score_out_of_range", id="survey-csat-0"
    ),
    pytest.param(
        "survey.answered", {"kind": "csat", "score": 6}, "data.score", "score_out_of_range", id="survey-csat-6"
    ),
    pytest.param("survey.answered", {"score": 8.5}, "data.score", "int_type", id="survey-score-fraction"),
    pytest.param("survey.answered", {"score": "9"}, "data.score", "int_type", id="survey-score-string"),
    pytest.param("survey.answered", {"score": True}, "data.score", "int_type", id="survey-score-bool"),
    pytest.param("survey.answered", {"comment": "c" * 10_001}, "data.comment", "string_too_long", id="survey-comment"),
    # contact.changed
    pytest.param("contact.changed", {"contact_id": MISSING}, "data.contact_id", "missing", id="contact-id-missing"),
    pytest.param("contact.changed", {"role": MISSING}, "data.role", "missing", id="contact-role-missing"),
    pytest.param("contact.changed", {"role": "ceo"}, "data.role", "literal_error", id="contact-role-bad"),
    pytest.param("contact.changed", {"change": MISSING}, "data.change", "missing", id="contact-change-missing"),
    pytest.param("contact.changed", {"change": "moved"}, "data.change", "literal_error", id="contact-change-bad"),
    pytest.param(
        "contact.changed", {"change": "role_changed"}, "data.new_role", "missing", id="contact-new-role-missing"
    ),
    pytest.param(
        "contact.changed",
        {"change": "role_changed", "new_role": "boss"},
        "data.new_role",
        "literal_error",
        id="contact-new-role-bad",
    ),
    pytest.param(
        "contact.changed",
        {"change": "joined", "new_role": "admin"},
        "data.new_role",
        "new_role_not_allowed",
        id="contact-new-role-unexpected",
    ),
    pytest.param("contact.changed", {"name": "n" * 201}, "data.name", "string_too_long", id="contact-name-long"),
    pytest.param("contact.changed", {"name": 7}, "data.name", "string_type", id="contact-name-number"),
    # account.updated
    pytest.param("account.updated", {"name": "n" * 201}, "data.name", "string_too_long", id="account-name-long"),
    pytest.param("account.updated", {"name": 42}, "data.name", "string_type", id="account-name-number"),
    pytest.param("account.updated", {"owner": "o" * 201}, "data.owner", "string_too_long", id="account-owner-long"),
    pytest.param("account.updated", {"owner": ["a", "b"]}, "data.owner", "string_type", id="account-owner-list"),
    pytest.param("account.updated", {"segment": "s" * 65}, "data.segment", "string_too_long", id="account-segment"),
    pytest.param("account.updated", {"segment": 3}, "data.segment", "string_type", id="account-segment-number"),
    pytest.param("account.updated", {"crm_id": "c" * 129}, "data.crm_id", "string_too_long", id="account-crm-id"),
    pytest.param("account.updated", {"crm_id": 1234}, "data.crm_id", "string_type", id="account-crm-id-number"),
    pytest.param("account.updated", {"tier": "t" * 65}, "data.tier", "string_too_long", id="account-tier-long"),
    pytest.param("account.updated", {"tier": True}, "data.tier", "string_type", id="account-tier-bool"),
    # contract.cancelled
    pytest.param("contract.cancelled", {"contract_id": MISSING}, "data.contract_id", "missing", id="cancel-id"),
    pytest.param("contract.cancelled", {"end_date": MISSING}, "data.end_date", "missing", id="cancel-end-missing"),
    pytest.param("contract.cancelled", {"end_date": "soon"}, "data.end_date", "date_parsing", id="cancel-end-bad"),
    pytest.param(
        "contract.cancelled",
        {"start_date": "2027-02-01"},
        "data.end_date",
        "end_date_not_after_start_date",
        id="cancel-end-before-start",
    ),
    pytest.param("contract.cancelled", {"arr": -5}, "data.arr", "greater_than_equal", id="cancel-arr-negative"),
    pytest.param("contract.cancelled", {"seats": "3"}, "data.seats", "int_type", id="cancel-seats-string"),
    pytest.param("contract.cancelled", {"currency": "dollars"}, "data.currency", "invalid_currency", id="cancel-cur"),
    pytest.param("contract.cancelled", {"reason": "r" * 10_001}, "data.reason", "string_too_long", id="cancel-reason"),
]


NO_ACCOUNT_FIELDS = [
    pytest.param({}, id="empty"),
    pytest.param({"nmae": "Acme", "region": "emea"}, id="only-unknown-keys"),
]


BAD_CONTRACT_TERMS = [
    pytest.param({"contract_id": MISSING}, "data.contract_id", "missing", id="id-missing"),
    pytest.param({"contract_id": " "}, "data.contract_id", "string_too_short", id="id-blank"),
    pytest.param({"arr": MISSING}, "data.arr", "missing", id="arr-missing"),
    pytest.param({"arr": -0.01}, "data.arr", "greater_than_equal", id="arr-negative"),
    pytest.param({"arr": "12k"}, "data.arr", "decimal_parsing", id="arr-not-decimal"),
    pytest.param({"arr": "NaN"}, "data.arr", "finite_number", id="arr-nan"),
    pytest.param({"arr": "-Infinity"}, "data.arr", "finite_number", id="arr-infinity"),
    pytest.param({"arr": True}, "data.arr", "decimal_type", id="arr-bool"),
    pytest.param({"arr": None}, "data.arr", "decimal_type", id="arr-null"),
    pytest.param({"arr": "1e16"}, "data.arr", "less_than_equal", id="arr-absurd"),
    pytest.param({"arr": "1.1234567"}, "data.arr", "decimal_max_places", id="arr-seven-places"),
    pytest.param({"currency": "US"}, "data.currency", "invalid_currency", id="currency-short"),
    pytest.param({"currency": "US1"}, "data.currency", "invalid_currency", id="currency-digit"),
    pytest.param({"currency": "ÉUR"}, "data.currency", "invalid_currency", id="currency-non-ascii"),
    pytest.param({"currency": 840}, "data.currency", "string_type", id="currency-number"),
    pytest.param({"seats": MISSING}, "data.seats", "missing", id="seats-missing"),
    pytest.param({"seats": -1}, "data.seats", "greater_than_equal", id="seats-negative"),
    pytest.param({"seats": 2**31}, "data.seats", "less_than_equal", id="seats-over-int32"),
    pytest.param({"seats": 1.5}, "data.seats", "int_type", id="seats-fraction"),
    pytest.param({"seats": "5"}, "data.seats", "int_type", id="seats-string"),
    pytest.param({"seats": True}, "data.seats", "int_type", id="seats-bool"),
    pytest.param({"products": "core"}, "data.products", "tuple_type", id="products-string"),
    pytest.param({"products": ["core", " "]}, "data.products.1", "string_too_short", id="products-blank-item"),
    pytest.param({"products": [1]}, "data.products.0", "string_type", id="products-number-item"),
    pytest.param({"start_date": MISSING}, "data.start_date", "missing", id="start-missing"),
    pytest.param({"start_date": "2026-13-01"}, "data.start_date", "date_parsing", id="start-bad-month"),
    pytest.param({"start_date": "2026-01-01T00:00:00Z"}, "data.start_date", "date_parsing", id="start-timestamp"),
    pytest.param({"start_date": "20260101"}, "data.start_date", "date_parsing", id="start-compact"),
    pytest.param({"start_date": 1767225600}, "data.start_date", "date_type", id="start-epoch"),
    pytest.param({"end_date": MISSING}, "data.end_date", "missing", id="end-missing"),
    pytest.param({"end_date": "2026-01-01"}, "data.end_date", "end_date_not_after_start_date", id="end-equals-start"),
    pytest.param({"end_date": "2025-12-31"}, "data.end_date", "end_date_not_after_start_date", id="end-before-start"),
    pytest.param({"auto_renew": "true"}, "data.auto_renew", "bool_type", id="auto-renew-string"),
    pytest.param({"auto_renew": 1}, "data.auto_renew", "bool_type", id="auto-renew-number"),
    pytest.param({"segment": "s" * 65}, "data.segment", "string_too_long", id="segment-long"),
    pytest.param({"segment": 3}, "data.segment", "string_type", id="segment-number"),
]


BAD_ENVELOPES = [
    pytest.param({"event_id": MISSING}, "event_id", "missing", id="event-id-missing"),
    pytest.param({"event_id": "   "}, "event_id", "string_too_short", id="event-id-blank"),
    pytest.param({"event_id": "e" * 129}, "event_id", "string_too_long", id="event-id-129"),
    pytest.param({"event_id": 17}, "event_id", "string_type", id="event-id-number"),
    pytest.param({"account_id": MISSING}, "account_id", "missing", id="account-id-missing"),
    pytest.param({"account_id": ""}, "account_id", "string_too_short", id="account-id-empty"),
    pytest.param({"account_id": "a" * 129}, "account_id", "string_too_long", id="account-id-129"),
    pytest.param({"account_id": None}, "account_id", "string_type", id="account-id-null"),
    pytest.param({"type": MISSING}, "type", "missing", id="type-missing"),
    pytest.param({"type": "usage.deleted"}, "type", "unknown_event_type", id="type-unknown"),
    pytest.param({"type": "Usage.Recorded"}, "type", "unknown_event_type", id="type-wrong-case"),
    pytest.param({"type": 3}, "type", "unknown_event_type", id="type-number"),
    pytest.param({"type": None}, "type", "unknown_event_type", id="type-null"),
    pytest.param({"schema_version": MISSING}, "schema_version", "missing", id="version-missing"),
    pytest.param({"schema_version": 2}, "schema_version", "unsupported_schema_version", id="version-2"),
    pytest.param({"schema_version": 0}, "schema_version", "unsupported_schema_version", id="version-0"),
    pytest.param({"schema_version": "1"}, "schema_version", "int_type", id="version-string"),
    pytest.param({"schema_version": True}, "schema_version", "int_type", id="version-bool"),
    pytest.param({"schema_version": 1.0}, "schema_version", "int_type", id="version-float"),
    pytest.param({"occurred_at": MISSING}, "occurred_at", "missing", id="occurred-missing"),
    pytest.param(
        {"occurred_at": "2026-11-20T09:30:00"}, "occurred_at", "timestamp_without_offset", id="occurred-naive"
    ),
    pytest.param(
        {"occurred_at": "2026-11-20 09:30:00.5"}, "occurred_at", "timestamp_without_offset", id="occurred-naive-space"
    ),
    pytest.param({"occurred_at": "2026-11-20"}, "occurred_at", "datetime_parsing", id="occurred-date-only"),
    pytest.param({"occurred_at": "2026-11-20T09:30Z"}, "occurred_at", "datetime_parsing", id="occurred-no-seconds"),
    pytest.param({"occurred_at": "1700000000"}, "occurred_at", "datetime_parsing", id="occurred-epoch-string"),
    pytest.param({"occurred_at": "2026-11-20T25:00:00Z"}, "occurred_at", "datetime_parsing", id="occurred-hour-25"),
    pytest.param({"occurred_at": "yesterday"}, "occurred_at", "datetime_parsing", id="occurred-words"),
    pytest.param({"occurred_at": 1700000000}, "occurred_at", "datetime_type", id="occurred-epoch-number"),
    pytest.param({"occurred_at": None}, "occurred_at", "datetime_type", id="occurred-null"),
    pytest.param(
        {"occurred_at": "0001-01-01T00:30:00+01:00"}, "occurred_at", "datetime_out_of_range", id="occurred-year-0"
    ),
    pytest.param({"source": "s" * 129}, "source", "string_too_long", id="source-long"),
    pytest.param({"source": 5}, "source", "string_type", id="source-number"),
    pytest.param({"data": MISSING}, "data", "missing", id="data-missing"),
    pytest.param({"data": []}, "data", "model_type", id="data-array"),
    pytest.param({"data": "feature=x"}, "data", "model_type", id="data-string"),
    pytest.param({"data": None}, "data", "model_type", id="data-null"),
    pytest.param({"occured_at": "2026-11-20T09:30:00Z"}, "occured_at", "extra_forbidden", id="unknown-top-level-key"),
]
